import CSystem
import FoundationEssentials
import Glibc
import SlipwaySystem
import Synchronization

/// Owns an app's public port and relays each TCP connection to the app's current container.
///
/// This is what makes the swap zero-downtime: the new container is published on a port of its
/// own, and switching is one assignment here. Connections already open stay with the container
/// they started on (counted per upstream, so the old one can be drained); new ones go to the new
/// one. With no container (app stopped, or not yet deployed) the port answers 503. The process's
/// shared `RelayPool` accept the connections and relay their bytes.
public final class PortForwarder: Sendable {
    public struct Upstream: Sendable, Equatable {
        public let generation: Int
        /// The container's published loopback port: always reachable, and how the upstream is known.
        public let port: Int
        /// The container's own address on Docker's bridge, tried first: it skips docker-proxy, a
        /// second relay that would otherwise sit behind this one (see BENCHMARKS.md, forwarder).
        public let direct: (host: String, port: Int)?

        public static func == (a: Upstream, b: Upstream) -> Bool {
            a.generation == b.generation && a.port == b.port && a.direct?.host == b.direct?.host && a.direct?.port == b.direct?.port
        }
    }

    private struct State {
        var upstream: Upstream?
        var nextGeneration = 1
        var connections: [Int: Int] = [:]
        /// Open relayed connections, to every generation.
        var open = 0
        var closed = false
        var unavailableMessage = "no version of this app is running"
    }

    public let host: String
    public let port: Int
    /// Open connections at once (`--max-app-connections`); past it a new one is answered 503.
    public let maxConnections: Int
    public static let defaultMaximumConnections = 1024
    private let state = Mutex(State())
    private let relays: RelayPool
    private let listener: RelayListener

    public init(host: String, port: Int, maxConnections: Int = PortForwarder.defaultMaximumConnections) throws {
        self.host = host
        self.maxConnections = maxConnections
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

    /// Points new connections at a container's loopback port (nil: answer 503). Returns the old upstream.
    @discardableResult
    public func setUpstream(port: Int?, direct: (host: String, port: Int)? = nil, unavailableMessage: String? = nil) -> Upstream? {
        state.withLock { s in
            let old = s.upstream
            if let port {
                if old?.port == port && old?.direct?.host == direct?.host { return old }
                s.upstream = Upstream(generation: s.nextGeneration, port: port, direct: direct)
                s.nextGeneration += 1
            } else {
                s.upstream = nil
            }
            if let unavailableMessage { s.unavailableMessage = unavailableMessage }
            return old
        }
    }

    public var upstream: Upstream? { state.withLock { $0.upstream } }

    /// Open connections relayed to `generation`.
    public func openConnections(to generation: Int) -> Int {
        state.withLock { $0.connections[generation] ?? 0 }
    }

    /// Waits until the old upstream has no open connections, or the drain period ends.
    public func drain(_ old: Upstream, seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while openConnections(to: old.generation) > 0 && Date() < deadline { usleep(20_000) }
    }

    /// Stops listening; relayed connections end on their own.
    public func close() {
        let first = state.withLock { s -> Bool in
            defer { s.closed = true }
            return !s.closed
        }
        if first { relays.stopListening(listener) }
    }

    /// Counts a new connection for the current upstream, or answers 503 when there is none or
    /// the port has all the connections it may have.
    private func admit(_ client: Int32) -> RelayListener.Admission? {
        enum Verdict { case relay(Upstream), unavailable(String), full }
        let verdict = state.withLock { s -> Verdict in
            guard let u = s.upstream else { return .unavailable(s.unavailableMessage) }
            guard s.open < maxConnections else { return .full }
            s.connections[u.generation, default: 0] += 1
            s.open += 1
            return .relay(u)
        }
        switch verdict {
        case .unavailable(let message):
            ProxyReply.send(client, status: "503 Service Unavailable", message: message)
            return nil
        case .full:
            ProxyReply.send(client, status: "503 Service Unavailable",
                            message: "this app has \(maxConnections) open connections, its limit; try again shortly")
            return nil
        case .relay(let upstream):
            return RelayListener.Admission(upstream: upstream) { [self] in
                state.withLock { s in
                    s.open -= 1
                    s.connections[upstream.generation, default: 1] -= 1
                    if s.connections[upstream.generation] == 0 { s.connections[upstream.generation] = nil }
                }
            }
        }
    }

    /// Open relayed connections, to every version of the app.
    public var openConnections: Int { state.withLock { $0.open } }
}
