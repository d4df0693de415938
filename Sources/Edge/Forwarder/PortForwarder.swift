import CSystem
import Glibc
import SlipwaySystem
import Synchronization

/// Owns an app's public port and relays each TCP connection to the app's live container.
///
/// This is what makes the swap zero-downtime: the new container is published on a port of its
/// own, and switching is one assignment in the app's `LiveUpstream`, which the HTTP edge reads
/// too. Connections already open stay with the container they started on (counted there per
/// generation, so the old one can be drained); new ones go to the new one. With no container (app
/// stopped, or not yet deployed) the port answers 503. The process's shared `RelayPool` accepts
/// the connections and relays their bytes.
public final class PortForwarder: Sendable {
    private struct State {
        /// Open relayed connections, to every generation.
        var open = 0
        var closed = false
    }

    public let host: String
    public let port: Int
    /// Open connections at once (`--max-app-connections`); past it a new one is answered 503.
    public let maxConnections: Int
    public static let defaultMaximumConnections = 1024
    /// Where connections go: the app's live container, shared with the HTTP edge.
    public let live: LiveUpstream
    private let state = Mutex(State())
    /// Connections since the port was opened, by what became of them (/metrics). The port relays
    /// bytes and reads no HTTP, so these are connections, not requests by status.
    private let relayed = Atomic<Int>(0)
    private let refusedUnavailable = Atomic<Int>(0)
    private let refusedAtLimit = Atomic<Int>(0)
    private let relays: RelayPool
    private let listener: RelayListener

    public init(host: String, port: Int, upstream live: LiveUpstream, maxConnections: Int = PortForwarder.defaultMaximumConnections) throws {
        self.host = host
        self.maxConnections = maxConnections
        self.live = live
        relays = try RelayPool.shared()
        let fd = try Socket.listen(host: host, port: port)
        // Accepted sockets inherit TCP_NODELAY from the listener: one system call less per connection.
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        // Port 0 asks the kernel for one (tests); the port is what was actually bound.
        self.port = port == 0 ? Socket.localPort(fd) : port
        listener = relays.listener(fd)
        relays.listen(listener) { [self] client in admit(client) }
    }

    /// Forwarders made from now on accept only after `releaseAccepting` (an upgrade's new process,
    /// until its first look at Docker has found the apps' containers).
    public static func holdAccepting() throws(IOError) { try RelayPool.shared().hold() }

    public static func releaseAccepting() throws(IOError) { try RelayPool.shared().release() }

    /// Looks again for connections waiting on every forwarder's port, once the process an upgrade
    /// took over from has stopped accepting (`RelayPool.rewatchAll` says why).
    public static func rearmAccepting() throws(IOError) { try RelayPool.shared().rewatchAll() }

    /// A copy of the listening socket, for the process taking over; nil once closed.
    public func duplicateListener() -> Int32? {
        var copy: Int32?
        listener.withDescriptor { copy = fcntl($0, F_DUPFD_CLOEXEC, 0) }
        return copy.flatMap { $0 >= 0 ? $0 : nil }
    }

    /// Stops listening; relayed connections end on their own.
    public func close() {
        let first = state.withLock { s -> Bool in
            defer { s.closed = true }
            return !s.closed
        }
        if first { relays.stopListening(listener) }
    }

    /// Counts a new connection for the live upstream, or answers 503 when there is none or the
    /// port has all the connections it may have.
    private func admit(_ client: Int32) -> RelayListener.Admission? {
        let full = state.withLock { s -> Bool in
            guard s.open < maxConnections else { return true }
            s.open += 1
            return false
        }
        if full {
            refusedAtLimit.wrappingAdd(1, ordering: .relaxed)
            ProxyReply.send(client, status: "503 Service Unavailable",
                            message: "this app has \(maxConnections) open connections, its limit; try again shortly")
            return nil
        }
        switch live.acquire() {
        case .unavailable(let why):
            refusedUnavailable.wrappingAdd(1, ordering: .relaxed)
            state.withLock { $0.open -= 1 }
            ProxyReply.send(client, status: "503 Service Unavailable", message: why.message(app: live.appName))
            return nil
        case .upstream(let upstream):
            relayed.wrappingAdd(1, ordering: .relaxed)
            return RelayListener.Admission(upstream: upstream) { [self] in
                live.release(upstream)
                state.withLock { $0.open -= 1 }
            }
        }
    }

    /// Open relayed connections, to every version of the app.
    public var openConnections: Int { state.withLock { $0.open } }

    /// Connections accepted since the port was opened: relayed to the app, answered 503 because
    /// no container was there (stopped, starting, not deployed), and answered 503 at the limit.
    public var connectionCounts: (relayed: Int, unavailable: Int, atLimit: Int) {
        (relayed.load(ordering: .relaxed), refusedUnavailable.load(ordering: .relaxed), refusedAtLimit.load(ordering: .relaxed))
    }
}
