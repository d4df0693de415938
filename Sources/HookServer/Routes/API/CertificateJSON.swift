import FoundationEssentials
import Pipeline
import SlipwaySystem

/// The API's JSON shape of a domain's certificate: what it is, never its key or PEM.
enum CertificateJSON {
    static func encode(_ summary: CertificateSummary) -> JSON {
        .object([
            ("domain", .string(summary.domain)),
            ("status", .string(summary.status.rawValue)),
            ("issuer", .string(summary.issuer)),
            ("not_after", .string(Timestamp.format(Date(timeIntervalSince1970: Double(summary.notAfter))))),
            ("source", .string(summary.source)),
            ("last_error", .null),
        ])
    }
}
