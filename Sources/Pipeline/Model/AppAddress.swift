/// Where an app is reached from outside, as the API, the dashboard and the deployment log show it.
///
/// A domain is an address only when the HTTP edge serves it: with the edge on (`--http-port`),
/// the URL is the app's first exact domain, on the edge's port (`http://shop.example.com`, or
/// `http://shop.example.com:8080` on another port than 80); without it, nothing answers at that
/// name, so the URL stays the app's port URL. That is what Dokku does: `dokku url` shows the
/// domain while its proxy serves the app, and the host and port once the proxy is off.
public struct AppAddress: Sendable, Equatable {
    /// The public port served now: nil under `--app-ports off`, even for an app that kept a port
    /// from an earlier run (it is kept, and served again when ports are).
    public let port: Int?
    /// With the edge on, its URL for the first exact domain, when the app has one; else
    /// `http://<apps host>:<port>`; nil with neither. A wildcard names no host one could open, so
    /// it never makes the URL.
    public let url: String?
    /// The edge's port (`--http-port`); nil when no edge runs.
    private let edgePort: Int?

    public init(_ app: App, appsHost: String, portsServed: Bool, edgePort: Int?) {
        let port = portsServed ? app.port : nil
        self.port = port
        self.edgePort = edgePort
        if let edgePort, let domain = app.domains.first(where: { !$0.isWildcard }) {
            url = Self.edgeURL(domain, edgePort: edgePort)
        } else if let port {
            url = "http://\(appsHost):\(port)"
        } else {
            url = nil
        }
    }

    /// Where `domain` opens the app: nil for a wildcard (no one host to open) and for every name
    /// while no edge serves them.
    public func link(to domain: DomainName) -> String? {
        guard let edgePort, !domain.isWildcard else { return nil }
        return Self.edgeURL(domain, edgePort: edgePort)
    }

    /// Port 80 is left out, as browsers show it.
    private static func edgeURL(_ domain: DomainName, edgePort: Int) -> String {
        "http://\(domain.value)" + (edgePort == 80 ? "" : ":\(edgePort)")
    }
}
