import SlipwaySystem

/// What a handler returns.
public struct HTTPResponse: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        /// Written as it is produced (chunked on HTTP/1.1), for live logs.
        case stream(@Sendable (ResponseBodyWriter) throws -> Void)
        /// Not known yet: the connection waits, without a worker, for the real response.
        case deferred(DeferredResponse)
    }

    public var status: Int
    public var headers: HTTPHeaders
    public var body: Body

    public init(status: Int = 200, headers: [(String, String)] = [], body: Body = .bytes([])) {
        self.status = status
        self.headers = HTTPHeaders(headers)
        self.body = body
    }

    public static func text(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: .bytes(Array(text.utf8)))
    }

    public static func json(_ value: JSON, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: .bytes(value.bytes + [0x0a]))
    }

    public static func html(_ html: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/html; charset=utf-8")], body: .bytes(Array(html.utf8)))
    }

    public static func redirect(_ location: String) -> HTTPResponse {
        HTTPResponse(status: 303, headers: [("Location", location)])
    }

    public static let noContent = HTTPResponse(status: 204)

    public static func deferred(_ response: DeferredResponse) -> HTTPResponse {
        HTTPResponse(body: .deferred(response))
    }

    /// The error body in the format the client's route speaks. Only the error's own safe message
    /// goes in; request bytes never do.
    public static func error(_ error: any HTTPResponseError, format: ErrorFormat) -> HTTPResponse {
        var response: HTTPResponse
        switch format {
        case .json:
            response = .json(.object([("error", .object([("code", .string(error.code)), ("message", .string(error.message))]))]),
                             status: error.status)
        case .text:
            response = .text(error.message + "\n", status: error.status)
        }
        for (name, value) in error.extraHeaders { response.headers.add(name, value) }
        return response
    }
}

/// Lets a streaming body write pieces as they come; throws once the client is gone.
public protocol ResponseBodyWriter: Sendable {
    func write(_ bytes: [UInt8]) throws
}
