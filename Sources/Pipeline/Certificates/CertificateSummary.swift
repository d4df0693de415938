/// What Slipway shows of a domain's certificate: never the key, never the PEM.
public struct CertificateSummary: Sendable, Equatable {
    public enum Status: String, Sendable {
        case valid
        /// Fewer than `UploadedCertificates.warnDays` days left.
        case expiring
        case expired
    }

    public let domain: String
    public let status: Status
    public let issuer: String
    /// Seconds since 1970.
    public let notAfter: Int
    /// Where it came from: "uploaded" (ACME comes next).
    public let source: String
}
