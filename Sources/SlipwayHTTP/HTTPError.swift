/// Errors that become HTTP responses, in Hummingbird's style: anything that knows its status.
/// Everything else thrown by a handler becomes a bare 500.
public protocol HTTPResponseError: Error {
    var status: Int { get }
    /// Short machine-readable code for JSON bodies.
    var code: String { get }
    /// Safe to show to the client: never contains request bytes or secrets.
    var message: String { get }
    var extraHeaders: [(String, String)] { get }
}

extension HTTPResponseError {
    public var code: String { HTTPStatus.code(status) }
    public var extraHeaders: [(String, String)] { [] }
}

/// A protocol-level or handler error with a fixed message.
public struct HTTPError: HTTPResponseError, Equatable {
    public let status: Int
    public let message: String
    public var code: String
    /// Framing errors leave the connection in an unknown state, so it must close.
    public var closesConnection: Bool
    public var extraHeaders: [(String, String)] = []

    public init(_ status: Int, _ message: String, code: String? = nil, closesConnection: Bool = false, headers: [(String, String)] = []) {
        self.status = status
        self.message = message
        self.code = code ?? HTTPStatus.code(status)
        self.closesConnection = closesConnection
        self.extraHeaders = headers
    }

    public static func == (a: HTTPError, b: HTTPError) -> Bool {
        a.status == b.status && a.message == b.message && a.closesConnection == b.closesConnection
    }

    /// A request-framing error: answered, then the connection closes.
    public static func framing(_ status: Int, _ message: String) -> HTTPError {
        HTTPError(status, message, closesConnection: true)
    }

    public static func badRequest(_ message: String) -> HTTPError { HTTPError(400, message) }
    public static func notFound(_ message: String) -> HTTPError { HTTPError(404, message) }
    public static func conflict(_ message: String) -> HTTPError { HTTPError(409, message) }
}
