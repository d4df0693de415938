import Edge
import SlipwaySystem

/// The HTTP edge's routes for this server: the dashboard's name, then each app's domains, to the
/// app's live upstream. It answers from what is current at each request (the host-name table,
/// the registry, the app's body limit on its live upstream), so a domain added, a swap made or
/// a limit changed is in effect for the next request.
public struct AppEdgeRoutes: EdgeRoutes {
    let dashboardDomain: String?
    /// The app id a Host header names, if any.
    let appForHost: @Sendable (String) -> Int?
    let upstreams: UpstreamRegistry
    /// Where each app's requests are recorded (the registry the API and the app page read).
    let accessLogs: AccessLogRegistry
    /// `--max-request-body`: the limit of every app that sets none of its own.
    let defaultMaxRequestBody: Int

    public init(dashboardDomain: String?, upstreams: UpstreamRegistry, accessLogs: AccessLogRegistry, defaultMaxRequestBody: Int,
                appForHost: @escaping @Sendable (String) -> Int?) {
        self.dashboardDomain = dashboardDomain
        self.upstreams = upstreams
        self.accessLogs = accessLogs
        self.defaultMaxRequestBody = defaultMaxRequestBody
        self.appForHost = appForHost
    }

    public func route(host: String) -> EdgeRoute {
        if let dashboardDomain, DomainTable<Int>.hostName(host) == dashboardDomain { return .dashboard }
        guard let id = appForHost(host), let live = upstreams.upstream(for: id) else { return .unknown }
        return .app(EdgeApp(name: live.appName, live: live, maxRequestBody: live.maxRequestBody ?? defaultMaxRequestBody,
                            accessLog: accessLogs.appLog(for: id, name: live.appName)))
    }
}
