/// Where the HTTP edge sends a request, by its Host header. The one question the edge asks of the
/// rest of Slipway, so the edge knows nothing of the store, and the tests answer it themselves.
public protocol EdgeRoutes: Sendable {
    /// `host` is the Host header as the client sent it (any case, maybe with a port).
    func route(host: String) -> EdgeRoute
}

/// The edge's decision for one request.
public enum EdgeRoute: Sendable {
    /// The dashboard's name (`--dashboard-domain`): its own responder answers.
    case dashboard
    /// An app's name: proxy to its live container.
    case app(EdgeApp)
    /// No one's name: a 404 page naming no app.
    case unknown
}

/// An app as the edge needs it: its name for pages and logs, where its traffic goes, its limit,
/// and where its requests are recorded.
public struct EdgeApp: Sendable {
    public let name: String
    public let live: LiveUpstream
    /// The largest request body the app accepts (`--max-request-body`); past it, 413.
    public let maxRequestBody: Int
    /// The app's access log, which each finished request is recorded in; nil records nothing.
    public let accessLog: AppAccessLog?
    /// Plain HTTP requests to a domain with a certificate go to HTTPS.
    public var redirectsToHTTPS: Bool { live.redirectsToHTTPS }

    public init(name: String, live: LiveUpstream, maxRequestBody: Int, accessLog: AppAccessLog?) {
        self.name = name
        self.live = live
        self.maxRequestBody = maxRequestBody
        self.accessLog = accessLog
    }
}
