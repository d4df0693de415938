import Glibc
import SlipwayHTTP

/// Socket-level settings of the HTTP server.
public struct ServerOptions: Sendable {
    public var host = "127.0.0.1"
    public var port = 5000
    public var limits = HTTPLimits()
    /// Time allowed from a request's first byte to the end of its headers (Go's ReadHeaderTimeout).
    public var headerTimeoutMilliseconds = 10_000
    /// Time a kept-alive connection may sit idle between requests (nginx's keepalive_timeout is 75 s).
    public var idleTimeoutMilliseconds = 75_000
    /// Time allowed between two reads of a body (nginx's client_body_timeout)...
    public var bodyTimeoutMilliseconds = 10_000
    /// ...and for a whole body the server buffers, so a trickle cannot hold a connection for
    /// ever (a body streamed through an `Exchange` has only the timeout between reads).
    public var bodyTotalTimeoutMilliseconds = 120_000
    /// A client that stops reading our response is dropped after this.
    public var writeTimeoutMilliseconds = 30_000
    public var maxConnections = 1024
    /// Request bodies in flight across all connections (bytes); past it, 503.
    public var maxBodyMemory = 256 * 1024 * 1024
    /// Workers kept free to serve connections (more start while handlers block); one per core.
    public var minimumWorkers = max(2, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    /// A worker above that minimum leaves after this long without work.
    public var workerRetireMilliseconds = 5_000
    /// SIGTERM waits this long for in-flight requests before exiting anyway.
    public var shutdownGraceMilliseconds = 30_000

    public init() {}
}
