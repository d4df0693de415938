import CSystem
import Glibc
import SlipwayHTTP
import SlipwaySystem
import Synchronization

/// The HTTP/1.1 server: an accept loop, and a pool of workers that serve the connections
/// (`ConnectionPool`). Idle and slow clients wait in an epoll set, not on a thread, so they
/// can never delay another; handlers may block on SQLite or a process, and the pool starts
/// more workers when they do.
public final class HTTPServer: Sendable {
    public let options: ServerOptions
    let listenFD: Int32
    private let shutdownFlag = ShutdownFlag()
    /// Whether `run` has closed the listener: `shutdown` must not touch a descriptor number that
    /// may belong to another socket by then.
    private let listenerClosed = Mutex(false)
    private let pool: ConnectionPool

    /// Listens at once (so a port taken is an error here); serves once `run` is called.
    public init(options: ServerOptions, dispatcher: any RequestDispatcher) throws {
        self.options = options
        self.listenFD = try Socket.listen(host: options.host, port: options.port)
        // Accepted sockets inherit TCP_NODELAY from the listener on Linux: one setsockopt here
        // rather than one per connection.
        var one: Int32 = 1
        setsockopt(listenFD, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let context = ConnectionContext(options: options, dispatcher: dispatcher, shutdown: shutdownFlag,
                                        bodies: BodyMemoryBudget(capacity: options.maxBodyMemory))
        self.pool = try ConnectionPool(context: context,
                                       minimumWorkers: options.minimumWorkers, maximumConnections: options.maxConnections,
                                       retireAfterMilliseconds: options.workerRetireMilliseconds)
    }

    public var port: Int { Socket.localPort(listenFD) }
    public var isShuttingDown: Bool { shutdownFlag.isRaised }
    public var connectionCount: Int { pool.connectionCount }
    public var workerCount: Int { pool.workerCount }

    /// Accepts until shutdown, then waits for in-flight requests (up to the grace period).
    ///
    /// The accept blocks on the (blocking) listener, with no poll before it: a system call per
    /// connection fewer. `shutdown` wakes it by shutting the listener's reading side, which makes
    /// a blocked accept fail at once (EINVAL) and new connections be refused.
    public func run() {
        while !isShuttingDown {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept4(listenFD, $0, &length, Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue))
                }
            }
            if fd < 0 {
                let code = errno
                if code == EMFILE || code == ENFILE {
                    // Out of descriptors: back off instead of spinning on a listener that stays readable.
                    Log.warning("accept: out of file descriptors")
                    usleep(50_000)
                } else if code == EINVAL && !isShuttingDown {
                    // Only a shut-down listener fails so; never spin on one.
                    Log.error("accept: the listener is no longer listening")
                    usleep(10_000)
                }
                continue
            }
            admit(fd, remoteAddress: Socket.address(of: storage))
        }
        listenerClosed.withLock { closed in
            closed = true
            close(listenFD)
        }
        let deadline = monotonicMilliseconds() + options.shutdownGraceMilliseconds
        while connectionCount > 0 && monotonicMilliseconds() < deadline { usleep(10_000) }
    }

    private func admit(_ fd: Int32, remoteAddress: String) {
        guard pool.admit(fd: fd, remoteAddress: remoteAddress) else {
            // Over the limit: a short 503 instead of leaving the client hanging in the backlog.
            let reply = Array("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 21\r\nConnection: close\r\nRetry-After: 1\r\n\r\ntoo many connections\n".utf8)
            _ = reply.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(fd)
            return
        }
    }

    /// Stops accepting and wakes idle connections; in-flight requests finish.
    public func shutdown() {
        shutdownFlag.raise()
        listenerClosed.withLock { closed in
            if !closed { Glibc.shutdown(listenFD, Int32(SHUT_RD)) }
        }
    }
}
