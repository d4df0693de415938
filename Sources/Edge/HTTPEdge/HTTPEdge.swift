import SlipwayHTTP
import SlipwayServer

/// The HTTP edge: what the server listening on `--http-port` asks about each request. It routes
/// by the Host header, per request (so a kept-alive client's next request follows a swap), and
/// takes each app request over to proxy it (`ProxiedRequest`). The dashboard's name goes to the
/// dashboard's own dispatcher, which buffers and answers as it does on its own port.
///
/// The server beneath it is the dashboard's: the same accept loop, parked idle clients, workers,
/// head parser, limits and timeouts.
public struct HTTPEdge: RequestDispatcher {
    let routes: any EdgeRoutes
    let dashboard: (any RequestDispatcher)?
    let settings: EdgeSettings
    /// On the plain HTTP edge while an HTTPS edge runs: clients of a domain with a certificate go there.
    let redirect: HTTPSRedirect?
    /// ACME's HTTP-01 answers, on the plain HTTP edge.
    let challenges: (any ChallengeAnswers)?

    public init(routes: any EdgeRoutes, dashboard: (any RequestDispatcher)?, settings: EdgeSettings = EdgeSettings(),
                redirect: HTTPSRedirect? = nil, challenges: (any ChallengeAnswers)? = nil) {
        self.routes = routes
        self.dashboard = dashboard
        self.settings = settings
        self.redirect = redirect
        self.challenges = challenges
    }

    public func dispose(of head: RequestHead, remoteAddress: String) -> Disposition {
        let requestID = RequestID.accepted(head.headers["X-Request-Id"]) ?? RequestID.generate()
        if let challenges, head.method == "GET", head.path.hasPrefix(HTTPSRedirect.challengePrefix),
           let answer = challenges.keyAuthorization(token: String(head.path.dropFirst(HTTPSRedirect.challengePrefix.count))) {
            return .takeOver { $0.respond(Self.identified(.text(answer), requestID)) }
        }
        // BodyFraming has refused a request with two Host headers, and an HTTP/1.1 one without.
        switch routes.route(host: head.requestedHost) {
        case .dashboard:
            if let moved = redirect?.dashboardResponse(for: head) {
                return .takeOver { $0.respond(Self.identified(moved, requestID)) }
            }
            if let dashboard { return dashboard.dispose(of: head, remoteAddress: remoteAddress) }
            return .takeOver { $0.respond(Self.identified(EdgePage.notFound(), requestID)) }
        case .unknown:
            return .takeOver { $0.respond(Self.identified(EdgePage.notFound(), requestID)) }
        case .app(let app):
            let settings = settings
            let access = PendingAccessRecord(log: app.accessLog, method: head.method, target: head.target, requestID: requestID)
            if let moved = redirect?.response(for: head, app: app) {
                return .takeOver { exchange in
                    let outcome = exchange.respond(Self.identified(moved, requestID))
                    access.finish(status: moved.status, bytesReceived: exchange.bodyBytesRead, bytesSent: exchange.bytesSent,
                                  deploymentID: nil, upstreamFailed: false)
                    return outcome
                }
            }
            return .takeOver { exchange in
                ProxiedRequest(exchange: exchange, app: app, settings: settings, requestID: requestID, access: access).run()
            }
        }
    }

    /// Errors the connection meets before a request is routed (a malformed head, a timeout):
    /// no app is known yet, so the edge's own page.
    public func errorResponse(_ error: any HTTPResponseError, path: String) -> HTTPResponse {
        EdgePage.error(error)
    }

    /// Only the dashboard defers answers (a webhook waiting for its batch to be stored).
    public func respond(to request: HTTPRequest, deferred make: DeferredResponse.Maker) -> HTTPResponse {
        if let dashboard { return dashboard.respond(to: request, deferred: make) }
        return EdgePage.error(HTTPError(500, "internal error"))
    }

    private static func identified(_ response: HTTPResponse, _ requestID: String) -> HTTPResponse {
        var response = response
        response.headers.set("X-Request-Id", requestID)
        return response
    }
}
