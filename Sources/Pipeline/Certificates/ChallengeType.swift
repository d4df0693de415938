/// The ACME challenges Slipway answers (RFC 8555 section 8.3, RFC 8737): HTTP-01 on the HTTP
/// edge's `/.well-known/acme-challenge/`, TLS-ALPN-01 by a handshake for `acme-tls/1` on the
/// HTTPS edge. Each order tries the one that last worked for its domain first, then the other.
enum ChallengeType: String, CaseIterable, Sendable {
    case http01 = "http-01"
    case tlsALPN01 = "tls-alpn-01"

    /// The order to try them in: `preferred` first.
    static func attempts(preferring preferred: ChallengeType?) -> [ChallengeType] {
        guard let preferred else { return allCases }
        return [preferred] + allCases.filter { $0 != preferred }
    }
}
