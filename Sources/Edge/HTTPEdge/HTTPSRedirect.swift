import SlipwayHTTP
import SlipwaySystem

/// Sends an app's plain HTTP clients to HTTPS once the domain they asked for has a certificate,
/// as Caddy and kamal-proxy do: 301 for GET and HEAD, 308 for the rest (which keeps the method
/// and body, RFC 9110 section 15.4.9). ACME's HTTP-01 challenges stay on plain HTTP, where the CA
/// asks for them; an app whose `https_redirect` is off keeps plain HTTP served.
public struct HTTPSRedirect: Sendable {
    public static let challengePrefix = "/.well-known/acme-challenge/"

    /// Where the HTTPS edge listens; the Location names it unless it is 443.
    public let httpsPort: Int
    let hasCertificate: @Sendable (String) -> Bool
    /// Whether the dashboard's domain is served over HTTPS (its certificate comes from ACME).
    let redirectsDashboard: Bool

    public init(httpsPort: Int, redirectsDashboard: Bool = false, hasCertificate: @escaping @Sendable (String) -> Bool) {
        self.httpsPort = httpsPort
        self.redirectsDashboard = redirectsDashboard
        self.hasCertificate = hasCertificate
    }

    /// Webhook deliveries to the dashboard's domain stay on plain HTTP: GitHub does not follow
    /// redirects, and each delivery is signed, so TLS adds nothing a redirect could give.
    static let webhookPrefix = "/hooks/"

    /// The redirect for a request to `app`, or nil when it is served as it came.
    func response(for head: RequestHead, app: EdgeApp) -> HTTPResponse? {
        app.redirectsToHTTPS ? response(for: head) : nil
    }

    /// The redirect for a request to the dashboard's domain, once it has its certificate.
    func dashboardResponse(for head: RequestHead) -> HTTPResponse? {
        !redirectsDashboard || head.path.hasPrefix(Self.webhookPrefix) ? nil : response(for: head)
    }

    private func response(for head: RequestHead) -> HTTPResponse? {
        guard !head.path.hasPrefix(Self.challengePrefix),
              let host = DomainTable<Int>.hostName(head.requestedHost), hasCertificate(host) else { return nil }
        let location = "https://" + host + (httpsPort == 443 ? "" : ":\(httpsPort)") + Self.originForm(head.target)
        let status = head.method == "GET" || head.method == "HEAD" ? 301 : 308
        var response = HTTPResponse.text("This page is at \(location)\n", status: status)
        response.headers.set("Location", location)
        return response
    }

    /// The target's path and query: as is in origin form, without the scheme and authority in
    /// absolute form (the authority names the host, which the Location has already).
    static func originForm(_ target: String) -> String {
        if target.hasPrefix("/") { return target }
        let bytes = Array(target.utf8)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), bytes[colon...].starts(with: Array("://".utf8)) else { return "/" }
        let rest = Substring(String(decoding: bytes[(colon + 3)...], as: UTF8.self))
        guard let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return "/" }
        let path = String(rest[slash...])
        return path.hasPrefix("?") ? "/" + path : path
    }
}
