/// The HTTP edge's limits on what waits for an upstream, after nginx's proxy module: each wait
/// has its own timeout.
public struct EdgeSettings: Sendable {
    /// A connect to the container (the bridge address gets 1 s of it, as in the port forwarder;
    /// a container that is up answers a connect at once, and one that is gone refuses it).
    public var connectTimeoutMilliseconds = 5_000
    /// Between two reads of the upstream's answer, the first included; past it, 504 if nothing of
    /// the answer was sent yet (nginx's proxy_read_timeout, 60 s).
    public var readTimeoutMilliseconds = 60_000
    /// Between two writes of the request to the upstream (nginx's proxy_send_timeout, 60 s).
    public var sendTimeoutMilliseconds = 60_000
    /// The scheme the clients used, which the app reads in X-Forwarded-Proto: "https" on the
    /// HTTPS edge.
    public var forwardedProto = "http"
    /// An app's request body limit unless it has its own; the default, 100 MB.
    public static let defaultMaxRequestBody = 100 * 1024 * 1024

    public init() {}
}
