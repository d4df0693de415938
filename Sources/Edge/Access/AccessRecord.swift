import FoundationEssentials

/// One finished request through the edge, as the access log keeps it. Built by the edge once the
/// response's last byte is sent (or the exchange failed), then handed to `AccessLogRegistry.log`.
///
/// The method, path and request id are sanitised here, once, with `AccessText`: the stored values
/// are safe to show and to write as one field of a log line.
public struct AccessRecord: Sendable, Equatable {
    /// When the request's head was received (wall clock, for people to read).
    public let time: Date
    public let method: String
    /// The path without its query string or fragment, escaped (`AccessText.path(fromTarget:)`).
    public let path: String
    /// The status sent to the client, the edge's own 502/503/504 included.
    public let status: Int
    /// Body bytes received from the client (the request body as it reached the edge).
    public let bytesReceived: Int
    /// Bytes written to the client: head and body, as nginx's $bytes_sent counts them.
    public let bytesSent: Int
    /// From the head's arrival to the last byte sent, in microseconds. An upgraded connection (a
    /// WebSocket, status 101) is recorded when it closes: its duration is the connection's, and
    /// its bytes are all it relayed.
    public let durationMicroseconds: Int
    /// The deployment whose container answered; nil when no upstream was chosen (unknown host,
    /// a stopped app, a request refused before dispatch).
    public let deploymentID: Int?
    /// The X-Request-Id the edge sent upstream and returned (kept from the client or generated).
    public let requestID: String
    /// True when the edge could not get a whole answer from the container: the connection was
    /// refused or reset (the edge answered 502), it timed out (504), or it ended mid-response.
    /// A 502 the app sent itself is the app's answer, not an upstream error.
    public let upstreamFailed: Bool

    /// `target` is the request target as received (`/path?query`); only its path is kept.
    public init(time: Date, method: String, target: String, status: Int, bytesReceived: Int, bytesSent: Int,
                durationMicroseconds: Int, deploymentID: Int?, requestID: String, upstreamFailed: Bool = false) {
        self.time = time
        self.method = AccessText.method(method)
        self.path = AccessText.path(fromTarget: target)
        self.status = status
        self.bytesReceived = max(0, bytesReceived)
        self.bytesSent = max(0, bytesSent)
        self.durationMicroseconds = max(0, durationMicroseconds)
        self.deploymentID = deploymentID
        self.requestID = AccessText.requestID(requestID)
        self.upstreamFailed = upstreamFailed
    }

    /// The duration in milliseconds, to the microsecond: what the API and the log file show.
    public var durationMilliseconds: Double { Double(durationMicroseconds) / 1000 }
}
