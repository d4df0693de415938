import CTLS

/// A certificate signed by its own key, for the names given: what the tests serve before an
/// ACME CA has issued anything, and the shape of the TLS-ALPN-01 challenge certificate.
public enum SelfSignedCertificate {
    /// A certificate for `names` (the first is also its common name), valid from a minute ago
    /// for `validSeconds`, signed with `key` (SHA-256).
    /// `acmeIdentifier`, for a TLS-ALPN-01 challenge (RFC 8737), is the SHA-256 digest of the
    /// key authorization, carried in the critical id-pe-acmeIdentifier extension.
    public static func make(names: [String], key: PrivateKey, validSeconds: Int,
                            acmeIdentifier: [UInt8]? = nil) throws(TLSError) -> CertificateChain {
        guard let first = names.first else { throw TLSError("making a certificate", reason: "no name given") }
        // The names go into OpenSSL's configuration syntax below: nothing but a host name's
        // characters may reach it.
        for name in names where !isHostName(name) {
            throw TLSError("making a certificate", reason: "not a host name: \(name.prefix(100))")
        }
        guard let certificate = X509_new() else { throw TLSError.fromQueue("X509_new") }
        var owned = true
        defer { if owned { X509_free(certificate) } }
        var serial = [UInt8](repeating: 0, count: 8)
        guard RAND_bytes(&serial, Int32(serial.count)) == 1 else { throw TLSError.fromQueue("RAND_bytes") }
        let serialValue = serial.dropFirst().reduce(Int(serial[0] & 0x3f)) { $0 << 8 | Int($1) }
        guard X509_set_version(certificate, 2) == 1,
              ASN1_INTEGER_set(X509_get_serialNumber(certificate), serialValue) == 1,
              X509_gmtime_adj(X509_getm_notBefore(certificate), -60) != nil,
              X509_gmtime_adj(X509_getm_notAfter(certificate), validSeconds) != nil,
              X509_set_pubkey(certificate, key.pointer) == 1,
              let subject = X509_get_subject_name(certificate),
              X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, first, -1, -1, 0) == 1,
              X509_set_issuer_name(certificate, subject) == 1
        else { throw TLSError.fromQueue("making a certificate") }
        let alternatives = names.map { "DNS:" + $0 }.joined(separator: ",")
        guard let extensionValue = X509V3_EXT_conf_nid(nil, nil, NID_subject_alt_name, alternatives) else {
            throw TLSError.fromQueue("making a certificate's subjectAltName")
        }
        defer { X509_EXTENSION_free(extensionValue) }
        guard X509_add_ext(certificate, extensionValue, -1) == 1 else { throw TLSError.fromQueue("making a certificate") }
        if let acmeIdentifier { try addACMEIdentifier(acmeIdentifier, to: certificate) }
        guard X509_sign(certificate, key.pointer, EVP_sha256()) > 0
        else { throw TLSError.fromQueue("signing a certificate") }
        owned = false
        return CertificateChain(certificates: [certificate])
    }

    /// id-pe-acmeIdentifier (1.3.6.1.5.5.7.1.31), critical, its value the DER OCTET STRING of
    /// the digest (RFC 8737, section 3).
    private static func addACMEIdentifier(_ digest: [UInt8], to certificate: OpaquePointer) throws(TLSError) {
        guard digest.count == 32 else { throw TLSError("making a challenge certificate", reason: "the digest is not SHA-256's 32 bytes") }
        let value = [0x04, 0x20] + digest
        guard let object = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1) else { throw TLSError.fromQueue("OBJ_txt2obj") }
        defer { ASN1_OBJECT_free(object) }
        guard let octets = ASN1_OCTET_STRING_new() else { throw TLSError.fromQueue("ASN1_OCTET_STRING_new") }
        defer { ASN1_OCTET_STRING_free(octets) }
        guard ASN1_OCTET_STRING_set(octets, value, Int32(value.count)) == 1,
              let extensionValue = X509_EXTENSION_create_by_OBJ(nil, object, 1, octets)
        else { throw TLSError.fromQueue("making the acmeIdentifier extension") }
        defer { X509_EXTENSION_free(extensionValue) }
        guard X509_add_ext(certificate, extensionValue, -1) == 1 else { throw TLSError.fromQueue("adding the acmeIdentifier extension") }
    }

    /// Only a host name's characters (and a wildcard's `*`): the names go into OpenSSL's
    /// configuration syntax, where a comma would start another entry.
    static func isHostName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 253 && name.utf8.allSatisfy(isHostNameByte)
    }

    private static func isHostNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "*"):
            return true
        default:
            return false
        }
    }
}
