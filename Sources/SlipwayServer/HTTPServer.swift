import CSystem
import Glibc
import SlipwayHTTP
import SlipwaySystem
import SlipwayTLS
import Synchronization

/// The HTTP/1.1 server: a listener, and a pool of workers that accept and serve the connections
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
    /// Signalled by `shutdown`, which `run` waits for.
    private let stopped: EventSignal

    /// Listens at once (so a port taken is an error here); serves once `run` is called. With
    /// `tls`, every connection is TLS (HTTPS), its handshake done by the workers like any read.
    public init(options: ServerOptions, dispatcher: any RequestDispatcher, tls: TLSServerContext? = nil) throws {
        self.options = options
        self.listenFD = try Socket.listen(host: options.host, port: options.port)
        self.stopped = try EventSignal()
        // Accepted sockets inherit TCP_NODELAY from the listener on Linux: one setsockopt here
        // rather than one per connection.
        var one: Int32 = 1
        setsockopt(listenFD, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let context = ConnectionContext(options: options, dispatcher: dispatcher, shutdown: shutdownFlag,
                                        bodies: BodyMemoryBudget(capacity: options.maxBodyMemory), tls: tls)
        self.pool = try ConnectionPool(context: context,
                                       minimumWorkers: options.minimumWorkers, maximumConnections: options.maxConnections,
                                       retireAfterMilliseconds: options.workerRetireMilliseconds)
    }

    public var port: Int { Socket.localPort(listenFD) }
    public var isShuttingDown: Bool { shutdownFlag.isRaised }
    public var connectionCount: Int { pool.connectionCount }
    public var workerCount: Int { pool.workerCount }

    /// Serves until shutdown, then waits for in-flight requests (up to the grace period). The
    /// pool's workers accept (`ConnectionPool`); this thread only waits for the end.
    public func run() {
        do {
            try pool.accept(from: listenFD)
            while !isShuttingDown { stopped.wait(timeoutMilliseconds: 60_000) }
        } catch {
            Log.error("http: cannot accept connections: \(error)")
        }
        pool.stopAccepting()
        listenerClosed.withLock { closed in
            if !closed { close(listenFD) }
            closed = true
        }
        let deadline = monotonicMilliseconds() + options.shutdownGraceMilliseconds
        while connectionCount > 0 && monotonicMilliseconds() < deadline { usleep(10_000) }
    }

    /// Stops accepting and wakes idle connections; in-flight requests finish.
    public func shutdown() {
        shutdownFlag.raise()
        listenerClosed.withLock { closed in
            // Refuses new connections at once, before `run` closes the listener.
            if !closed { Glibc.shutdown(listenFD, Int32(SHUT_RD)) }
        }
        stopped.signal()
    }

    /// A copy of the listening socket, for the process taking over; nil once it is closed.
    public func duplicateListener() -> Int32? {
        listenerClosed.withLock { closed in closed ? nil : fcntl(listenFD, F_DUPFD_CLOEXEC, 0) }
    }

    /// Leaves connections in the backlog for a while (the upgrade hand-over is under way).
    public func pauseAccepting() { pool.stopAccepting() }

    /// Accepts again after `pauseAccepting` (the process that was to take over did not).
    public func resumeAccepting() {
        listenerClosed.withLock { closed in
            guard !closed else { return }
            do throws(IOError) {
                try pool.accept(from: listenFD)
            } catch {
                Log.error("http: cannot accept connections again: \(error)")
            }
        }
    }

    /// Shuts down as `shutdown` does, but leaves the listening socket listening: another process
    /// holds it now and accepts what waits in its backlog. Only this process's copy is closed,
    /// after the workers stopped watching it (a socket shared with another process stays in an
    /// epoll set after a close here, so it must leave the set first).
    public func handOver() {
        shutdownFlag.raise()
        pool.stopAccepting()
        listenerClosed.withLock { closed in
            if !closed { close(listenFD) }
            closed = true
        }
        stopped.signal()
    }
}
