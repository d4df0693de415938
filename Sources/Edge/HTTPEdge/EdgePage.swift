import SlipwayHTTP
import SlipwaySystem

/// The short HTML pages the edge answers with itself: what went wrong, for which app, and what
/// to do. An unknown host names no app, so a scan of host names learns nothing of which exist.
enum EdgePage {
    static func notFound() -> HTTPResponse {
        page(404, "No app here", "No app on this server answers to this host name. If it is yours, add the name to the app's domains.")
    }

    static func unavailable(app: String, why: Unavailability) -> HTTPResponse {
        let todo: String
        switch why {
        case .notDeployed: todo = "Its first deployment has not succeeded yet: deploy it, or see its last deployment's log."
        case .stopped: todo = "Start it from the dashboard or the API."
        case .starting: todo = "Slipway is bringing its container back; try again in a few seconds."
        case .restarting: todo = "Its container is being restarted; try again in a few seconds."
        }
        var response = page(503, "\(app) is unavailable", why.message(app: app) + ". " + todo)
        if why == .starting || why == .restarting { response.headers.add("Retry-After", "5") }
        return response
    }

    static func badGateway(app: String) -> HTTPResponse {
        page(502, "\(app) did not answer", "\(app) refused or dropped the connection, or answered with something that is not HTTP. "
             + "Check that it listens on its internal port, and see its logs.")
    }

    static func gatewayTimeout(app: String, seconds: Int) -> HTTPResponse {
        page(504, "\(app) took too long", "\(app) did not answer within \(seconds) s. See its logs, or try again.")
    }

    static func tooLarge(app: String, limit: Int) -> HTTPResponse {
        page(413, "Request too large", "\(app) accepts request bodies of up to \(limit) bytes.")
    }

    static func upgradesBusy(app: String) -> HTTPResponse {
        var response = page(503, "Too many open connections", "The server relays as many upgraded connections as it can; "
                            + "try again shortly. (\(app))")
        response.headers.add("Retry-After", "1")
        return response
    }

    /// Any other error the connection meets (a malformed request, a timeout), as a page.
    static func error(_ error: any HTTPResponseError) -> HTTPResponse {
        var response = page(error.status, HTTPStatus.reason(error.status), error.message)
        for (name, value) in error.extraHeaders { response.headers.add(name, value) }
        return response
    }

    private static func page(_ status: Int, _ title: String, _ message: String) -> HTTPResponse {
        let html = """
            <!doctype html><html><head><meta charset="utf-8"><title>\(HTML.escape(title))</title></head>
            <body style="font-family:sans-serif;max-width:36em;margin:4em auto"><h1>\(HTML.escape(title))</h1><p>\(HTML.escape(message))</p>
            <p style="color:#888">\(status) \(HTML.escape(HTTPStatus.reason(status)))</p></body></html>\n
            """
        var response = HTTPResponse.html(html, status: status)
        response.headers.add("Cache-Control", "no-store")
        return response
    }
}
