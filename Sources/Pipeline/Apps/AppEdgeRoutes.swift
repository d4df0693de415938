import Edge
import SlipwaySystem

/// The HTTP edge's routes for this server: the dashboard's name, then each app's domains, to the
/// app's live upstream. It answers from what is current at each request (the host-name table,
/// the registry), so a domain added or a swap made is in effect for the next request.
public struct AppEdgeRoutes: EdgeRoutes {
    let dashboardDomain: String?
    /// The app id a Host header names, if any.
    let appForHost: @Sendable (String) -> Int?
    let upstreams: UpstreamRegistry
    /// Where each app's requests are recorded (the registry the API and the app page read).
    let accessLogs: AccessLogRegistry
    let maxRequestBody: Int

    public init(dashboardDomain: String?, upstreams: UpstreamRegistry, accessLogs: AccessLogRegistry, maxRequestBody: Int,
                appForHost: @escaping @Sendable (String) -> Int?) {
        self.dashboardDomain = dashboardDomain
        self.upstreams = upstreams
        self.accessLogs = accessLogs
        self.maxRequestBody = maxRequestBody
        self.appForHost = appForHost
    }

    public func route(host: String) -> EdgeRoute {
        if let dashboardDomain, DomainTable<Int>.hostName(host) == dashboardDomain { return .dashboard }
        guard let id = appForHost(host), let live = upstreams.upstream(for: id) else { return .unknown }
        return .app(EdgeApp(name: live.appName, live: live, maxRequestBody: maxRequestBody,
                            accessLog: accessLogs.appLog(for: id, name: live.appName)))
    }
}
