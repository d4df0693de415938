import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// /login and /logout: the admin password, the failed-login throttle, the session cookie.
struct LoginPages: Sendable {
    let web: WebContext

    func show(_ request: HTTPRequest) throws -> HTTPResponse {
        if web.sessions.session(for: request) != nil { return .redirect("/") }
        return try web.page("login", [:], session: nil, title: "Log in")
    }

    func logIn(_ request: HTTPRequest) throws -> HTTPResponse {
        try web.requireSameOrigin(request)
        let address = request.remoteAddress
        if let wait = web.throttle.retryAfter(address) {
            var response = try web.page("login", ["error": .string("Too many failed attempts. Try again in \(wait) s.")], session: nil,
                                        title: "Log in", status: 429)
            response.headers.add("Retry-After", String(wait))
            return response
        }
        let form = try web.form(request)
        guard web.credentials.isValidAdminPassword(form["password"] ?? "") else {
            web.throttle.recordFailure(address)
            Log.warning("failed login from \(address)")
            return try web.page("login", ["error": "Wrong password."], session: nil, title: "Log in", status: 401)
        }
        web.throttle.reset(address)
        let session = web.sessions.create()
        var response = HTTPResponse.redirect("/")
        response.headers.add("Set-Cookie", web.cookieHeader(session.id, maxAge: nil))
        return response
    }

    func logOut(_ request: HTTPRequest) throws -> HTTPResponse {
        let (session, _) = try web.requireAction(request)
        web.sessions.destroy(session.id)
        var response = HTTPResponse.redirect("/login")
        response.headers.add("Set-Cookie", web.cookieHeader("", maxAge: 0))
        return response
    }
}
