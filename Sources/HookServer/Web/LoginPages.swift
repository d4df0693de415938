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

    /// The attempt is reserved before the password is checked, so concurrent attempts cannot all
    /// pass the throttle. A throttled client is refused without a check even when it sends the
    /// right password: checking it would make every guess cost PBKDF2 again, and answering
    /// differently would let the guessing go on.
    func logIn(_ request: HTTPRequest) throws -> HTTPResponse {
        try web.requireSameOrigin(request)
        let form = try web.form(request)
        let reservation: FailureThrottle.Reservation
        switch web.throttle.reserve(from: request.remoteAddress) {
        case .refused(let wait):
            return try tooMany("Too many failed attempts. Try again in \(wait) s.", retryAfter: wait)
        case .admitted(let admitted):
            reservation = admitted
        }
        switch web.credentials.checkAdminPassword(form["password"] ?? "") {
        case .busy:
            // Never checked, so it does not count against the client.
            web.throttle.release(reservation)
            return try tooMany("Too many logins are being checked at once. Try again in a moment.", retryAfter: 1)
        case .invalid:
            Log.warning("failed login from \(request.remoteAddress)")
            return try web.page("login", ["error": "Wrong password."], session: nil, title: "Log in", status: 401)
        case .valid:
            // The admin's own typos from this address are forgiven.
            web.throttle.forgive(reservation)
            let session = web.sessions.create()
            var response = HTTPResponse.redirect("/")
            response.headers.add("Set-Cookie", web.cookieHeader(session.id, maxAge: nil))
            return response
        }
    }

    func logOut(_ request: HTTPRequest) throws -> HTTPResponse {
        let (session, _) = try web.requireAction(request)
        web.sessions.destroy(session.id)
        var response = HTTPResponse.redirect("/login")
        response.headers.add("Set-Cookie", web.cookieHeader("", maxAge: 0))
        return response
    }

    private func tooMany(_ message: String, retryAfter seconds: Int) throws -> HTTPResponse {
        var response = try web.page("login", ["error": .string(message)], session: nil, title: "Log in", status: 429)
        response.headers.add("Retry-After", String(seconds))
        return response
    }
}
