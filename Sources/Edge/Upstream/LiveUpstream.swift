import Glibc
import SlipwaySystem
import Synchronization

/// An app's live container, as everything in front of the app sees it: the port forwarder reads
/// it for each new connection, the HTTP edge for each request. One per app, so one switch moves
/// both, and one drain waits for both. It also carries the app's own limit on request bodies,
/// which the edge applies.
///
/// Every connection or request takes the upstream with `acquire` and gives it back with
/// `release`; the count per generation is what a swap drains before the old container is
/// stopped (`Deployer`).
public final class LiveUpstream: Sendable {
    /// What a new connection or request is to do.
    public enum Admission: Sendable, Equatable {
        /// Go to this upstream; `release` it when done.
        case upstream(Upstream)
        /// Answer 503: the app has no container, for this reason.
        case unavailable(Unavailability)
    }

    private struct State {
        var upstream: Upstream?
        var nextGeneration = 1
        var unavailability = Unavailability.notDeployed
        /// Connections and requests holding each generation, for the drain.
        var inFlight: [Int: Int] = [:]
        /// The HTTP edge's idle connections to the live container.
        var idle = IdleConnections()

        mutating func release(_ generation: Int) {
            let left = (inFlight[generation] ?? 1) - 1
            inFlight[generation] = left > 0 ? left : nil
        }
    }

    public let appName: String
    private let state = Mutex(State())
    /// The app's own request body limit; 0 is none (a limit is at least 1 byte).
    private let bodyLimit = Atomic<Int>(0)
    private let httpsRedirect = Atomic<Bool>(true)
    private let hsts = Atomic<Bool>(false)

    public init(appName: String, unavailability: Unavailability = .notDeployed, maxRequestBody: Int? = nil) {
        self.appName = appName
        state.withLock { $0.unavailability = unavailability }
        self.maxRequestBody = maxRequestBody
    }

    /// The largest request body the app takes through the HTTP edge, nil for the server's
    /// `--max-request-body`. Kept here because the edge holds this object for every request
    /// anyway: reading it is one atomic load, with no lookup and no SQL. `AppService` sets it
    /// when the app is made or edited, the supervisor when the server starts.
    public var maxRequestBody: Int? {
        get {
            let bytes = bodyLimit.load(ordering: .relaxed)
            return bytes > 0 ? bytes : nil
        }
        set { bodyLimit.store(max(newValue ?? 0, 0), ordering: .relaxed) }
    }

    /// Whether the HTTP edge redirects the app's plain HTTP requests to HTTPS when their domain has
    /// a certificate (the app's `https_redirect`), read as the body limit is, with each request.
    public var redirectsToHTTPS: Bool {
        get { httpsRedirect.load(ordering: .relaxed) }
        set { httpsRedirect.store(newValue, ordering: .relaxed) }
    }

    /// Whether the HTTPS edge adds Strict-Transport-Security to the app's answers (the app's `hsts`).
    public var sendsHSTS: Bool {
        get { hsts.load(ordering: .relaxed) }
        set { hsts.store(newValue, ordering: .relaxed) }
    }

    /// Points new connections and requests at a container, that of `deploymentID` (which the
    /// access log records for each request). Returns the upstream they went to before (nil if
    /// none), which the caller drains; when the container is the same one, nothing changes and
    /// that upstream is returned.
    @discardableResult
    public func setUpstream(host: String = "127.0.0.1", port: Int, direct: (host: String, port: Int)? = nil, deploymentID: Int?) -> Upstream? {
        state.withLock { s in
            let old = s.upstream
            if let old, old.isSameContainer(host: host, port: port, direct: direct, deploymentID: deploymentID) { return old }
            s.upstream = Upstream(generation: s.nextGeneration, host: host, port: port, direct: direct, deploymentID: deploymentID)
            s.nextGeneration += 1
            // Idle connections to the old container would carry a request there after the switch.
            s.idle.closeAll(except: s.upstream?.generation)
            return old
        }
    }

    /// Leaves the app without a container: new connections and requests get 503 saying `why`.
    /// Those in flight carry on. Returns the upstream they went to before.
    @discardableResult
    public func setUnavailable(_ why: Unavailability) -> Upstream? {
        state.withLock { s in
            defer {
                s.upstream = nil
                s.unavailability = why
                s.idle.closeAll(except: nil)
            }
            return s.upstream
        }
    }

    public var current: Upstream? { state.withLock { $0.upstream } }

    /// Takes the live upstream for one connection or request, counted until `release`.
    public func acquire() -> Admission {
        state.withLock { s in
            guard let u = s.upstream else { return .unavailable(s.unavailability) }
            s.inFlight[u.generation, default: 0] += 1
            return .upstream(u)
        }
    }

    public func release(_ upstream: Upstream) {
        state.withLock { s in s.release(upstream.generation) }
    }

    /// `acquire` and `takeIdleConnection` under one lock, as the edge does for every request:
    /// each lock is shared by every request to the app, and under load the four of a request
    /// (these two, and `release(_:keepingIdle:)`'s two) were a quarter of the edge's CPU spent
    /// waiting on one another.
    public func acquireWithIdleConnection() -> (admission: Admission, idle: (fd: Int32, idleMilliseconds: Int)?) {
        let now = monotonicMilliseconds()
        return state.withLock { s in
            guard let u = s.upstream else { return (.unavailable(s.unavailability), nil) }
            s.inFlight[u.generation, default: 0] += 1
            return (.upstream(u), s.idle.take(generation: u.generation, now: now))
        }
    }

    /// `release`, and gives back a connection whose last response left it reusable (`fd`), for
    /// the next request: under one lock. The connection is closed instead when its container is
    /// no longer the live one, or the pool is full.
    public func release(_ upstream: Upstream, keepingIdle fd: Int32?) {
        let now = monotonicMilliseconds()
        let stale: Int32? = state.withLock { s in
            s.release(upstream.generation)
            guard let fd else { return nil }
            guard s.upstream?.generation == upstream.generation else { return fd }
            s.idle.put(fd, generation: upstream.generation, now: now)
            return nil
        }
        // Closed outside the lock: a close is a system call every other request would wait for.
        if let stale { close(stale) }
    }

    /// Connections and requests that `acquire`d `generation` and have not released it.
    public func inFlight(to generation: Int) -> Int {
        state.withLock { $0.inFlight[generation] ?? 0 }
    }

    /// Waits until nothing holds `old` any more, or `seconds` have passed. Blocks: call it off the
    /// concurrency pool (the deployer's drain thread does). The old generation's idle connections
    /// are closed by then (at the switch, or as their requests end), so the container can stop.
    public func drain(_ old: Upstream, seconds: Double) {
        let deadline = monotonicMilliseconds() + Int(seconds * 1000)
        while inFlight(to: old.generation) > 0 && monotonicMilliseconds() < deadline { usleep(20_000) }
        state.withLock { s in
            if s.upstream?.generation != old.generation { s.idle.closeAll(except: s.upstream?.generation) }
        }
    }

    // MARK: idle connections (the HTTP edge's keep-alive pool)

    /// An idle kept-alive connection to `upstream`'s container and how long it was idle, or nil:
    /// dial a new one.
    public func takeIdleConnection(to upstream: Upstream) -> (fd: Int32, idleMilliseconds: Int)? {
        let now = monotonicMilliseconds()
        return state.withLock { s in
            guard s.upstream?.generation == upstream.generation else { return nil }
            return s.idle.take(generation: upstream.generation, now: now)
        }
    }

    /// Closes idle connections past their time. Requests do so as they pass, but an app no request
    /// reaches any more would keep its last few open to the container: the supervisor calls this
    /// on each round, so they last seconds, not until the next request.
    public func closeExpiredIdleConnections() {
        state.withLock { $0.idle.closeExpired(now: monotonicMilliseconds()) }
    }

    /// Idle connections kept, to every generation (for the tests).
    public var idleConnectionCount: Int { state.withLock { $0.idle.count } }
}
