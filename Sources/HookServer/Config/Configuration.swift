import Edge
import Pipeline
import SlipwayServer
import SlipwaySystem

/// Everything `slipway serve` is told by flags and environment variables; flags win.
struct Configuration: Sendable {
    var host = "127.0.0.1"
    var port = 5000
    var dataDir = "./data"
    /// nil for `--app-ports off`: apps get no port, only domains (served by the HTTP edge).
    var appPorts: ClosedRange<Int>? = 8001...8100
    var appsHost: String?
    var publicURL: String?
    var allowLocalRepos = false
    /// Start by taking the listening sockets over from the running process (`--takeover`).
    var takeover = false
    var templatesDir: String?
    var maxConnections = 1024
    var headerTimeout = 10
    var idleTimeout = 75
    var bodyTimeout = 10
    var maxBuilds = 2
    var keepImages = 5
    var buildTimeout = 900
    var healthTimeout = 60
    var drainTimeout = 10
    /// The docker client to run; a path, or a name looked up in PATH.
    var dockerExecutable = "docker"
    var builder: ImageBuilder.Choice = .auto
    /// Extra labels for every container and image ("key=value").
    var containerLabels: [(String, String)] = []
    var githubAPIURL = "https://api.github.com"
    var githubHost = "github.com"
    var keepDeliveries = Store.defaultKeptDeliveries
    var webhookBodyLimit = WebhookHandler.defaultBodyLimit
    var maxBodyMemory = 256 * 1024 * 1024
    var maxAppConnections = PortForwarder.defaultMaximumConnections
    /// The HTTP edge's port (`--http-port`); nil: no edge.
    var httpPort: Int?
    /// The HTTPS edge's port (`--https-port`); nil: none. It serves the certificates uploaded
    /// for the apps' domains (SNI), the same routes as the HTTP edge.
    var httpsPort: Int?
    /// ACME (`--acme-email`, `--acme-directory`, `--acme-ca-file`): on when an email is given.
    var acmeEmail: String?
    var acmeDirectory = ACMESettings.letsEncrypt
    var acmeCAFile: String?
    var acmeRetrySeconds = 60
    /// The first wait after a failed notification delivery (`NotificationSender`).
    var notificationRetrySeconds = 30
    /// The name under which the edge serves the dashboard, API and webhooks.
    var dashboardDomain: String?
    var maxRequestBody = EdgeSettings.defaultMaxRequestBody
    /// Seconds the edge waits for an app's answer, between two reads (504 past it).
    var upstreamTimeout = 60
    var adminPassword: String?
    var apiToken: String?
    /// A token that reads `/metrics` and nothing else (`SLIPWAY_METRICS_TOKEN`).
    var metricsToken: String?

    /// The host shown in app URLs: --apps-host, else --host (0.0.0.0 is no address to browse to).
    var effectiveAppsHost: String {
        if let appsHost, !appsHost.isEmpty { return appsHost }
        return host == "0.0.0.0" || host == "::" || host.isEmpty ? "127.0.0.1" : host
    }

    /// The base for webhook URLs and links, without a trailing slash.
    var effectivePublicURL: String {
        if var url = publicURL, !url.isEmpty {
            while url.hasSuffix("/") { url.removeLast() }
            return url
        }
        let h = host.hasOccurrence(of: ":") ? "[\(host)]" : host
        return "http://\(h == "0.0.0.0" ? "127.0.0.1" : h):\(port)"
    }

    /// The dashboard's own host names (the public URL's, `--host`), which no app may have as a
    /// domain; an address among them is harmless, as no domain can be one.
    var dashboardHostNames: Set<String> { Set(HostNames(self).configured) }

    /// Whether the dashboard is reached over https: its cookie is then Secure and `__Host-`, and
    /// its answers carry HSTS.
    var publicURLIsHTTPS: Bool { publicURL?.lowercased().hasPrefix("https://") == true }

    /// Whether the dashboard's domain gets a certificate from ACME and is served over HTTPS.
    var dashboardServesHTTPS: Bool { dashboardDomain != nil && httpsPort != nil && acmeEmail != nil }

    /// `--public-url`, unless given, follows `--dashboard-domain` on the edge: the URL the
    /// dashboard is then opened at, for its links, webhook URLs and the host check. It is the
    /// HTTPS edge's when the domain's certificate comes from ACME, so the session cookie is
    /// `__Host-` and Secure and the answers carry HSTS from the start.
    mutating func applyEdgeDefaults() {
        guard publicURL == nil, let dashboardDomain, let httpPort else { return }
        if dashboardServesHTTPS, let httpsPort {
            publicURL = "https://\(dashboardDomain)" + (httpsPort == 443 ? "" : ":\(httpsPort)")
        } else {
            publicURL = "http://\(dashboardDomain)" + (httpPort == 80 ? "" : ":\(httpPort)")
        }
    }

    var edgeSettings: EdgeSettings {
        var s = EdgeSettings()
        s.readTimeoutMilliseconds = upstreamTimeout * 1000
        return s
    }

    /// The edge's server: the dashboard's settings on its own port.
    var edgeServerOptions: ServerOptions? { httpPort.map(edgeOptions(port:)) }

    /// The HTTPS edge's server: the HTTP edge's settings on its own port.
    var httpsEdgeServerOptions: ServerOptions? { httpsPort.map(edgeOptions(port:)) }

    private func edgeOptions(port: Int) -> ServerOptions {
        var o = serverOptions
        o.port = port
        // One worker more than the dashboard's one per core. Benchmark 9 on 2 cores, keep-alive:
        // 3 workers gave about 20% more requests/s than 2, with less CPU per request, when each
        // proxied request held its worker while the app answered; 4 no better than 3. Requests
        // no longer hold one (`Exchange.waitForReadable`); the spare was kept, not measured again.
        o.minimumWorkers = serverOptions.minimumWorkers + 1
        return o
    }

    var serverOptions: ServerOptions {
        var o = ServerOptions()
        o.host = host
        o.port = port
        o.maxConnections = maxConnections
        o.headerTimeoutMilliseconds = headerTimeout * 1000
        o.idleTimeoutMilliseconds = idleTimeout * 1000
        o.bodyTimeoutMilliseconds = bodyTimeout * 1000
        o.maxBodyMemory = maxBodyMemory
        return o
    }
}
