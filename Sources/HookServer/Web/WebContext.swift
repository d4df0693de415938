import Edge
import Pipeline
import SlipwayCrypto
import SlipwayHTTP

/// What the dashboard's handlers share, and the checks every page and action goes through.
struct WebContext: Sendable {
    let service: AppService
    let credentials: Credentials
    let config: Configuration
    let renderer: TemplateRenderer
    let sessions: SessionStore
    /// Failed logins per client.
    let throttle: FailureThrottle
    let supervisor: AppSupervisor
    let warnings: ServerWarnings
    let rejectedDeliveries: RejectedDeliveries
    let accessLogs: AccessLogRegistry
    /// Certificates uploaded for the apps' domains.
    let certificates: UploadedCertificates
    /// The host names the dashboard answers to, and HSTS.
    let hostGuard: HostGuard

    var store: Store { service.store }
    var secureCookies: Bool { config.publicURLIsHTTPS }

    /// Headers on every HTML page: no framing, no outside resources, nothing cached.
    static let pageHeaders: [(String, String)] = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Cache-Control", "no-store"),
    ]

    func page(_ template: String, _ context: [String: TemplateValue], session: Session?, title: String, status: Int = 200) throws -> HTTPResponse {
        var fields = context
        fields["title"] = .string(title)
        if let session {
            fields["csrf"] = .string(session.csrfToken)
            fields["logged_in"] = true
        }
        fields["docker_unavailable"] = .bool(session != nil && !supervisor.isDockerAvailable)
        // Set-up warnings are for the operator, so only a logged-in page shows them.
        let shown = session == nil ? [] : warnings.all
        fields["server_warnings"] = .list(shown.map { .object(["id": .string($0.id), "message": .string($0.message)]) })
        let html = try renderer.page(template, .object(fields))
        return HTTPResponse(status: status, headers: Self.pageHeaders, body: .bytes(Array(html.utf8)))
    }

    /// The session, or a redirect to the login page.
    func requireSession(_ request: HTTPRequest) throws -> Session {
        guard let session = sessions.session(for: request) else { throw LoginRequired() }
        return session
    }

    /// Every state change: a session, a same-origin request, and the session's CSRF token.
    func requireAction(_ request: HTTPRequest) throws -> (Session, [String: String]) {
        try requireSameOrigin(request)
        let session = try requireSession(request)
        let form = try self.form(request)
        let given = Array((form["csrf"] ?? "").utf8), expected = Array(session.csrfToken.utf8)
        guard Crypto.constantTimeEqual(given, expected) else {
            throw HTTPError(403, "invalid or missing CSRF token; reload the page and try again")
        }
        return (session, form)
    }

    /// Browsers say where a request comes from; a cross-site POST is refused whatever it carries.
    /// The Origin must be one of the names this server answers to, never merely the request's
    /// own Host: under DNS rebinding the attacker's page and its requests share the attacker's name.
    func requireSameOrigin(_ request: HTTPRequest) throws {
        if let site = request.headers["Sec-Fetch-Site"]?.lowercased(), site != "same-origin", site != "none" {
            throw HTTPError(403, "cross-site request refused")
        }
        if let origin = request.headers["Origin"] {
            guard hostGuard.names.accepts(origin: origin, host: request.headers["Host"]) else {
                throw HTTPError(403, "cross-origin request refused")
            }
        }
    }

    func form(_ request: HTTPRequest) throws -> [String: String] {
        if request.body.isEmpty { return [:] }
        let type = (request.headers["Content-Type"] ?? "").lowercased()
        guard type.hasPrefix("application/x-www-form-urlencoded") else { throw HTTPError(415, "forms must be application/x-www-form-urlencoded") }
        return FormDecoding.decode(String(decoding: request.body, as: UTF8.self))
    }

    func app(_ request: HTTPRequest) throws -> App {
        let name = request.parameter("name")
        guard let app = try store.app(named: name) else { throw HTTPError.notFound("no app named \(name)") }
        return app
    }

    func cookieHeader(_ value: String, maxAge: Int?) -> String {
        var cookie = "\(sessions.cookieName)=\(value); Path=/; HttpOnly; SameSite=Strict"
        if let maxAge { cookie += "; Max-Age=\(maxAge)" }
        if secureCookies { cookie += "; Secure" }
        return cookie
    }
}

/// Thrown when a page needs a login: becomes a redirect to /login.
struct LoginRequired: HTTPResponseError {
    var status: Int { 303 }
    var message: String { "log in first" }
    var extraHeaders: [(String, String)] { [("Location", "/login")] }
}
