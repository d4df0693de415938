import CTLS

/// A private key (an OpenSSL EVP_PKEY): Slipway's own are ECDSA on P-256, the ACME account's and
/// each certificate's; an uploaded one may be RSA or ECDSA. Its PEM is only ever written to a
/// file of mode 0600, never to a log or an API answer.
///
/// @unchecked Sendable: the key is never changed after it is made, and OpenSSL allows a key to
/// be used from several threads at once.
public final class PrivateKey: @unchecked Sendable {
    let pointer: OpaquePointer

    private init(pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit { EVP_PKEY_free(pointer) }

    /// A new ECDSA key on P-256.
    public static func generateP256() throws(TLSError) -> PrivateKey {
        guard let key = slipway_ec_p256_generate() else { throw TLSError.fromQueue("generating a P-256 key") }
        return PrivateKey(pointer: key)
    }

    /// A key from PEM (PKCS #8, or the traditional RSA or EC forms), unencrypted.
    public convenience init(pem: [UInt8]) throws(TLSError) {
        let bio = try MemoryBIO(reading: pem)
        guard let key = PEM_read_bio_PrivateKey(bio.pointer, nil, nil, nil) else {
            throw TLSError.fromQueue("reading the private key", fallback: "no PEM private key found")
        }
        self.init(pointer: key)
    }

    /// The key as unencrypted PKCS #8 PEM, for a file of mode 0600.
    public func pem() throws(TLSError) -> [UInt8] {
        let bio = try MemoryBIO()
        guard PEM_write_bio_PrivateKey(bio.pointer, pointer, nil, nil, 0, nil, nil) == 1 else {
            throw TLSError.fromQueue("writing the private key")
        }
        return bio.contents()
    }

    /// "EC", "RSA" or OpenSSL's name for another kind.
    public var kind: String {
        guard let name = EVP_PKEY_get0_type_name(pointer) else { return "unknown" }
        return String(cString: name)
    }
}
