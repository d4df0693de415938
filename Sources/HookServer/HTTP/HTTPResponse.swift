import Pipeline
import SlipwaySystem

/// What a handler returns.
struct HTTPResponse: Sendable {
    enum Body: Sendable {
        case bytes([UInt8])
        /// Written as it is produced (chunked on HTTP/1.1), for live logs.
        case stream(@Sendable (ResponseBodyWriter) throws -> Void)
        /// Not known yet: the connection waits, without a worker, for the real response.
        case deferred(DeferredResponse)
    }

    var status: Int
    var headers: HTTPHeaders
    var body: Body

    init(status: Int = 200, headers: [(String, String)] = [], body: Body = .bytes([])) {
        self.status = status
        self.headers = HTTPHeaders(headers)
        self.body = body
    }

    static func text(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: .bytes(Array(text.utf8)))
    }

    static func json(_ value: JSON, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: .bytes(value.bytes + [0x0a]))
    }

    static func html(_ html: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/html; charset=utf-8")], body: .bytes(Array(html.utf8)))
    }

    static func redirect(_ location: String) -> HTTPResponse {
        HTTPResponse(status: 303, headers: [("Location", location)])
    }

    static let noContent = HTTPResponse(status: 204)

    static func deferred(_ response: DeferredResponse) -> HTTPResponse {
        HTTPResponse(body: .deferred(response))
    }

    /// The error body: JSON under /api and /hooks, plain text elsewhere. Only the error's own safe
    /// message goes in; request bytes never do.
    static func error(_ error: any HTTPResponseError, path: String) -> HTTPResponse {
        var response: HTTPResponse
        if path.hasPrefix("/api/") || path == "/api" || path.hasPrefix("/hooks/") {
            response = .json(.object([("error", .object([("code", .string(error.code)), ("message", .string(error.message))]))]), status: error.status)
        } else {
            response = .text(error.message + "\n", status: error.status)
        }
        for (name, value) in error.extraHeaders { response.headers.add(name, value) }
        return response
    }
}

/// Lets a streaming body write pieces as they come; throws once the client is gone.
protocol ResponseBodyWriter: Sendable {
    func write(_ bytes: [UInt8]) throws
}
