import CTLS
import Glibc

/// A certificate and the intermediates that vouch for it, leaf first: what an ACME order
/// returns or a user uploads. What Slipway shows of it (names, issuer, expiry) is read here.
///
/// @unchecked Sendable: the certificates are never changed after parsing, and OpenSSL allows
/// them to be read from several threads at once.
public final class CertificateChain: @unchecked Sendable {
    /// X509 objects, leaf first; each owned by this chain.
    let certificates: [OpaquePointer]

    init(certificates: [OpaquePointer]) {
        precondition(!certificates.isEmpty, "a chain has a leaf")
        self.certificates = certificates
    }

    deinit { certificates.forEach { X509_free($0) } }

    /// Every certificate in `pem`, in order. Throws when there is none, or one does not parse.
    public convenience init(pem: [UInt8]) throws(TLSError) {
        let bio = try MemoryBIO(reading: pem)
        var parsed: [OpaquePointer] = []
        while let certificate = PEM_read_bio_X509(bio.pointer, nil, nil, nil) {
            parsed.append(certificate)
        }
        // The loop ends on the end of the input (an expected "no start line") or on a broken one.
        let end = ERR_peek_last_error()
        if ERR_GET_REASON(end) == PEM_R_NO_START_LINE {
            ERR_clear_error()
        } else if end != 0 {
            parsed.forEach { X509_free($0) }
            throw TLSError.fromQueue("reading the certificate chain")
        }
        guard !parsed.isEmpty else { throw TLSError("reading the certificate chain", reason: "no PEM certificate found") }
        self.init(certificates: parsed)
    }

    var leaf: OpaquePointer { certificates[0] }

    /// The chain as PEM, leaf first.
    public func pem() throws(TLSError) -> [UInt8] {
        let bio = try MemoryBIO()
        for certificate in certificates where PEM_write_bio_X509(bio.pointer, certificate) != 1 {
            throw TLSError.fromQueue("writing the certificate chain")
        }
        return bio.contents()
    }

    /// The DNS names the leaf is for (its subjectAltName), lowercased.
    public var dnsNames: [String] {
        var names: OpaquePointer?
        let count = slipway_x509_dns_name_count(leaf, &names)
        defer { if let names { slipway_general_names_free(names) } }
        guard let names else { return [] }
        return (0..<count).compactMap { index -> String? in
            var length: Int32 = 0
            guard let bytes = slipway_x509_dns_name_at(names, index, &length) else { return nil }
            return String(decoding: UnsafeBufferPointer(start: bytes, count: Int(length)), as: UTF8.self).lowercased()
        }
    }

    /// When the leaf stops being valid, in seconds since 1970.
    public var notAfter: Int { Self.seconds(X509_get0_notAfter(leaf)) }
    /// When the leaf starts being valid, in seconds since 1970.
    public var notBefore: Int { Self.seconds(X509_get0_notBefore(leaf)) }

    /// The issuer's common name (its organisation, or the whole name, when it has none).
    public var issuer: String {
        guard let name = X509_get_issuer_name(leaf) else { return "" }
        for nid in [NID_commonName, NID_organizationName] {
            let index = X509_NAME_get_index_by_NID(name, nid, -1)
            if index >= 0, let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry) {
                var utf8: UnsafeMutablePointer<UInt8>?
                let length = ASN1_STRING_to_UTF8(&utf8, data)
                if length >= 0, let utf8 {
                    defer { CRYPTO_free(utf8, #fileID, #line) }
                    return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
                }
            }
        }
        var buffer = [CChar](repeating: 0, count: 256)
        X509_NAME_oneline(name, &buffer, Int32(buffer.count))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether `key` is the private half of the leaf's public key.
    public func matches(_ key: PrivateKey) -> Bool {
        defer { ERR_clear_error() }
        return X509_check_private_key(leaf, key.pointer) == 1
    }

    private static func seconds(_ time: UnsafePointer<ASN1_TIME>?) -> Int {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else { return 0 }
        return timegm(&parts)
    }
}
