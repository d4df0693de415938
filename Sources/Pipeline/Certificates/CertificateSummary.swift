/// What Slipway shows of a domain's certificate: never the key, never the PEM.
public struct CertificateSummary: Sendable, Equatable {
    public enum Status: String, Sendable {
        case valid
        /// Fewer than `UploadedCertificates.warnDays` days left.
        case expiring
        case expired
        /// Ordered from the ACME CA, not issued yet.
        case pending
        /// The last order failed (`lastError`); it is tried again later.
        case failed
    }

    public let domain: String
    public let status: Status
    public let issuer: String
    /// Seconds since 1970.
    public let notAfter: Int
    /// Where it came from: "uploaded" or "acme".
    public let source: String
    /// When it became valid (seconds since 1970): with `notAfter`, its lifetime, a third of
    /// which left is when an ACME certificate is renewed.
    public var notBefore: Int = 0
    /// Why the last ACME order failed.
    public var lastError: String? = nil
}
