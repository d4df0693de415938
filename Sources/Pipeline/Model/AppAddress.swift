/// Where an app is reached from outside, as the API, the dashboard and the deployment log show it.
public struct AppAddress: Sendable, Equatable {
    /// The public port served now: nil under `--app-ports off`, even for an app that kept a port
    /// from an earlier run (it is kept, and served again when ports are).
    public let port: Int?
    /// `http://<first exact domain>` when the app has one, else `http://<apps host>:<port>`; nil
    /// with neither. A wildcard names no host one could open, so it never makes the URL.
    public let url: String?

    public init(_ app: App, appsHost: String, portsServed: Bool) {
        let port = portsServed ? app.port : nil
        self.port = port
        if let domain = app.domains.first(where: { !$0.isWildcard }) {
            url = "http://\(domain.value)"
        } else if let port {
            url = "http://\(appsHost):\(port)"
        } else {
            url = nil
        }
    }
}
