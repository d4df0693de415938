import CTLS

/// SHA-256, for JWK thumbprints and ACME key authorizations.
enum Digest {
    static func sha256(_ bytes: [UInt8]) throws(TLSError) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        guard EVP_Digest(bytes, bytes.count, &digest, &length, EVP_sha256(), nil) == 1, length == 32 else {
            throw TLSError.fromQueue("SHA-256")
        }
        return digest
    }
}
