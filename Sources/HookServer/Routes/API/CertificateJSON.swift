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
            // Nothing issued yet while an order is pending or failed.
            ("not_after", summary.notAfter > 0 ? .string(Timestamp.format(Date(timeIntervalSince1970: Double(summary.notAfter)))) : .null),
            ("source", .string(summary.source)),
            ("last_error", .from(summary.lastError)),
        ])
    }
}
