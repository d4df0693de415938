import CTLS

/// A certificate signing request (PKCS #10) for some DNS names, signed with the certificate's
/// key: what an ACME order is finalized with (RFC 8555 section 7.4), DER-encoded.
public enum CertificateRequest {
    public static func der(names: [String], key: PrivateKey) throws(TLSError) -> [UInt8] {
        guard let first = names.first else { throw TLSError("making a certificate request", reason: "no name given") }
        for name in names where !SelfSignedCertificate.isHostName(name) {
            throw TLSError("making a certificate request", reason: "not a host name: \(name.prefix(100))")
        }
        guard let request = X509_REQ_new() else { throw TLSError.fromQueue("X509_REQ_new") }
        defer { X509_REQ_free(request) }
        guard X509_REQ_set_version(request, 0) == 1,
              let subject = X509_REQ_get_subject_name(request),
              X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, first, -1, -1, 0) == 1,
              X509_REQ_set_pubkey(request, key.pointer) == 1
        else { throw TLSError.fromQueue("making a certificate request") }
        guard let alternatives = X509V3_EXT_conf_nid(nil, nil, NID_subject_alt_name, names.map { "DNS:" + $0 }.joined(separator: ",")) else {
            throw TLSError.fromQueue("making a certificate request's subjectAltName")
        }
        defer { X509_EXTENSION_free(alternatives) }
        guard slipway_x509_req_add_extension(request, alternatives) == 1,
              X509_REQ_sign(request, key.pointer, EVP_sha256()) > 0
        else { throw TLSError.fromQueue("signing a certificate request") }
        let length = i2d_X509_REQ(request, nil)
        guard length > 0 else { throw TLSError.fromQueue("encoding a certificate request") }
        var der = [UInt8](repeating: 0, count: Int(length))
        var cursor: UnsafeMutablePointer<UInt8>? = nil
        let written = der.withUnsafeMutableBufferPointer { buffer in
            cursor = buffer.baseAddress
            return i2d_X509_REQ(request, &cursor)
        }
        guard written == length else { throw TLSError.fromQueue("encoding a certificate request") }
        return der
    }
}
