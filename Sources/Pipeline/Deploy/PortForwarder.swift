import CSystem
import FoundationEssentials
import Glibc
import Synchronization

/// Owns an app's public port and relays each TCP connection to the app's current container.
///
/// This is what makes the swap zero-downtime: the new container is published on a port of its
/// own, and switching is one assignment here. Connections already open stay with the container
/// they started on (counted per upstream, so the old one can be drained); new ones go to the new
/// one. With no container (app stopped, or not yet deployed) the port answers 503. The bytes are
/// relayed by the process's shared `RelayLoops`.
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
        var closed = false
        var unavailableMessage = "no version of this app is running"
    }

    public let host: String
    public let port: Int
    private let listenFD: Int32
    private let wakeFD: Int32
    private let state = Mutex(State())
    private let acceptThreadDone = Atomic<Bool>(false)
    private let relays: RelayLoops

    public init(host: String, port: Int) throws {
        self.host = host
        relays = try RelayLoops.shared()
        listenFD = try Socket.listen(host: host, port: port)
        _ = fcntl(listenFD, F_SETFL, fcntl(listenFD, F_GETFL) | O_NONBLOCK)
        // Port 0 asks the kernel for one (tests); the port is what was actually bound.
        self.port = port == 0 ? Socket.localPort(listenFD) : port
        do {
            wakeFD = try syscall("eventfd") { eventfd(0, SLIPWAY_EFD_CLOEXEC | SLIPWAY_EFD_NONBLOCK) }
        } catch {
            Glibc.close(listenFD)
            throw error
        }
        OSThread.detach(name: "forward-\(self.port)", stackSize: 256 * 1024) { [self] in acceptLoop() }
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
        guard first else { return }
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
        // The accept thread closes the listener, so it is never closed while polled.
        let deadline = monotonicMilliseconds() + 2000
        while !acceptThreadDone.load(ordering: .acquiring) && monotonicMilliseconds() < deadline { usleep(2000) }
    }

    private func acceptLoop() {
        defer {
            Glibc.close(listenFD)
            acceptThreadDone.store(true, ordering: .releasing)
        }
        while !state.withLock({ $0.closed }) {
            guard (try? Socket.wait(listenFD, events: Int16(POLLIN), timeoutMilliseconds: 1000, wakeFD: wakeFD)) == .ready else { continue }
            // The listener is non-blocking: take every connection that is waiting, then poll again.
            while true {
                let fd = accept4(listenFD, nil, nil, Int32(SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue))
                if fd >= 0 {
                    admit(fd)
                    continue
                }
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE { usleep(50_000) }
                break
            }
        }
    }

    /// Passes a new connection to the relay loops, or answers 503 with no upstream.
    private func admit(_ client: Int32) {
        var one: Int32 = 1
        setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let (upstream, unavailable) = state.withLock { s -> (Upstream?, String) in
            if let u = s.upstream { s.connections[u.generation, default: 0] += 1 }
            return (s.upstream, s.unavailableMessage)
        }
        guard let upstream else {
            ProxyReply.send(client, status: "503 Service Unavailable", message: unavailable)
            return
        }
        relays.relay(client: client, to: upstream) { [self] in
            state.withLock { s in
                s.connections[upstream.generation, default: 1] -= 1
                if s.connections[upstream.generation] == 0 { s.connections[upstream.generation] = nil }
            }
        }
    }
}
