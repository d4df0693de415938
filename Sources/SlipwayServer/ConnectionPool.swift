import CSystem
import Glibc
import SlipwayHTTP
import SlipwaySystem
import Synchronization

/// Runs the server's connections on a few worker threads instead of a thread each.
///
/// The workers also accept them: the listener sits in the same epoll set, and the worker that
/// takes a new connection serves its first request at once, with the bytes that usually came
/// with it. A separate accept thread cost a wake-up of its own and a hand-over through the
/// epoll set per connection (benchmark 9's new-connection clients); nginx's workers accept too.
///
/// Connections waiting for bytes sit in one epoll set (one-shot, so exactly one worker takes
/// each readiness); a worker takes a ready connection, serves what it has sent and parks it
/// again. Under load a worker goes from connection to connection without sleeping, where a
/// thread per connection cost a wake-up and a context switch per request and fifty threads
/// queued for two cores (benchmark 4).
///
/// Handlers may still block (a `docker stop`, a followed log), as Go's goroutines may block in
/// a system call; like Go's runtime, a monitor counts the workers that have been busy for more
/// than `stuckAfterMilliseconds` and starts new ones so that `minimumWorkers` are always free.
/// Workers beyond the minimum retire after `retireAfterMilliseconds` without work. The monitor
/// also ends parked connections whose deadline passed (idle, slow heads, drains).
///
/// A connection whose response is deferred (a webhook delivery waiting for its batch to commit)
/// is neither parked nor on a worker; its `DeferredResponse` brings it back through
/// `resume(deferred:)`, and the next free worker writes the response.
///
/// A connection whose handler waits for a descriptor of its own (the edge waiting for an app's
/// answer, `Exchange.waitForReadable`) is parked on that descriptor instead of its client's,
/// under its token with `waitBit` set; a worker runs the handler's continuation when it is
/// readable, or the monitor hands it to a worker as timed out.
final class ConnectionPool: Sendable {
    private final class Worker: Sendable {
        /// Monotonic milliseconds when the worker took its current connection; 0 while it waits.
        let busySince = Atomic<Int>(0)
    }

    static let stuckAfterMilliseconds = 20
    static let monitorTickMicroseconds: UInt32 = 20_000
    /// Per worker; a connection borrows it while a worker serves it...
    static let readBufferSize = 64 * 1024
    /// ...and a second one, which a handler that takes an exchange over reads its upstream into.
    static let spareBufferSize = 64 * 1024

    let minimumWorkers: Int
    let maximumWorkers: Int
    let retireAfterMilliseconds: Int32
    private let epoll: Epoll
    private let connections = Mutex<[UInt64: HTTPConnection]>([:])
    private let workers = Mutex<[Worker]>([])
    private let nextToken = Atomic<UInt64>(1)
    /// Connections whose deferred response is ready, and the eventfd in the epoll set that
    /// tells a worker so (its token, 0, is no connection's).
    private let deferredReady = Mutex<[HTTPConnection]>([])
    private let ready: EventSignal
    private static let readyToken: UInt64 = 0
    /// Set in the token of a handler's descriptor (connection tokens count up from 1 and never reach it).
    private static let waitBit: UInt64 = 1 << 63
    private static let listenerToken: UInt64 = 1 << 62
    /// The listening socket the workers accept from (non-blocking), -1 before `accept(from:)` and
    /// after `stopAccepting`. Accepting happens under this lock, so a listener is never used
    /// after it is closed (its number may be another socket's by then).
    private let listener = Mutex<Int32>(-1)
    /// What a client past `maximumConnections` is told before the close, instead of being left
    /// hanging in the backlog.
    private static let tooManyConnections = Array(("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
        + "Content-Length: 21\r\nConnection: close\r\nRetry-After: 1\r\n\r\ntoo many connections\n").utf8)
    private let openConnections = Atomic<Int>(0)
    /// What each new connection is given; the pool reads the shutdown flag in it too.
    private let context: ConnectionContext
    let maximumConnections: Int

    /// At most `maximumConnections` open at once, so never more workers than that either.
    init(context: ConnectionContext, minimumWorkers: Int, maximumConnections: Int, retireAfterMilliseconds: Int) throws {
        self.context = context
        self.minimumWorkers = max(1, minimumWorkers)
        self.retireAfterMilliseconds = Int32(clamping: max(1, retireAfterMilliseconds))
        self.maximumConnections = maximumConnections
        self.maximumWorkers = max(self.minimumWorkers, maximumConnections)
        self.epoll = try Epoll()
        self.ready = try EventSignal()
        try epoll.add(ready.fd, events: Epoll.readable | Epoll.oneShot, token: Self.readyToken)
        let first = workers.withLock { list in
            list = (0..<self.minimumWorkers).map { _ in Worker() }
            return list
        }
        for worker in first { start(worker) }
        OSThread.detach(name: "http-monitor", stackSize: 256 * 1024) { [self] in monitor() }
    }

    var workerCount: Int { workers.withLock { $0.count } }
    var connectionCount: Int { openConnections.load(ordering: .relaxed) }
    var isShuttingDown: Bool { context.shutdown.isRaised }

    /// From now on the workers accept connections from `fd`, a listening socket.
    func accept(from fd: Int32) throws(IOError) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        try listener.withLock { listening throws(IOError) in
            guard listening != fd else { return }
            listening = fd
            try epoll.add(fd, events: Epoll.input | Epoll.oneShot, token: Self.listenerToken)
        }
    }

    /// No connection is accepted once this returns, and the listener may be closed.
    func stopAccepting() {
        listener.withLock { fd in
            if fd >= 0 { epoll.remove(fd) }
            fd = -1
        }
    }

    /// Accepts one connection and serves what it has sent, on this worker. The listener is armed
    /// again first, so the next connection goes to another worker meanwhile.
    private func acceptAndServe(_ worker: Worker, scratch: UnsafeMutableRawBufferPointer, spare: UnsafeMutableRawBufferPointer) {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let (fd, code) = listener.withLock { listening -> (Int32, Int32) in
            guard listening >= 0 else { return (-1, EINVAL) }
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept4(listening, $0, &length, Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue))
                }
            }
            let code = fd < 0 ? errno : 0
            // Out of descriptors, the listener stays readable: armed again only after a pause
            // (below), never to spin. Shut down (EINVAL), it is not armed again at all.
            if code != EMFILE && code != ENFILE && code != EINVAL {
                do {
                    try epoll.rearm(listening, events: Epoll.input | Epoll.oneShot, token: Self.listenerToken)
                } catch {
                    Log.error("http: the listener cannot be armed again: \(error)")
                }
            }
            return (fd, code)
        }
        guard fd >= 0 else {
            if code == EMFILE || code == ENFILE {
                Log.warning("accept: out of file descriptors")
                usleep(50_000)
                listener.withLock { listening in
                    if listening >= 0 { try? epoll.rearm(listening, events: Epoll.input | Epoll.oneShot, token: Self.listenerToken) }
                }
            }
            return
        }
        if openConnections.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue > maximumConnections {
            openConnections.wrappingSubtract(1, ordering: .acquiringAndReleasing)
            _ = Self.tooManyConnections.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(fd)
            return
        }
        let transport: ClientTransport
        do {
            transport = try ClientTransport(fd: fd, tls: context.tls)
        } catch {
            Log.error("http: \(error)")
            openConnections.wrappingSubtract(1, ordering: .acquiringAndReleasing)
            close(fd)
            return
        }
        let token = nextToken.wrappingAdd(1, ordering: .relaxed).oldValue
        let connection = HTTPConnection(transport: transport, token: token, remoteAddress: Socket.address(of: storage), context: context)
        connections.withLock { $0[token] = connection }
        // Owned from the start (never parked yet): served here; parked if nothing has come yet.
        worker.busySince.store(monotonicMilliseconds(), ordering: .relaxed)
        let step = connection.resume(scratch: scratch, spare: spare)
        worker.busySince.store(0, ordering: .relaxed)
        settle(connection, step)
    }

    // MARK: workers

    private func start(_ worker: Worker) {
        let started = OSThread.detach(name: "http", stackSize: 512 * 1024) { [self] in work(worker) }
        if !started { workers.withLock { $0.removeAll { $0 === worker } } }
    }

    private func work(_ worker: Worker) {
        var events = Epoll.Events(capacity: 1)
        let buffers = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readBufferSize + Self.spareBufferSize, alignment: 16)
        defer { buffers.deallocate() }
        let scratch = UnsafeMutableRawBufferPointer(rebasing: buffers[0..<Self.readBufferSize])
        let spare = UnsafeMutableRawBufferPointer(rebasing: buffers[Self.readBufferSize...])
        while true {
            do {
                try epoll.wait(&events, timeoutMilliseconds: retireAfterMilliseconds)
            } catch {
                Log.error("http worker: \(error)")
                usleep(10_000)
                continue
            }
            if events.count == 0 {
                if retire(worker) { return }
                continue
            }
            let token = events[0].token
            if token == Self.readyToken {
                serveDeferred(worker, scratch: scratch, spare: spare)
                continue
            }
            if token == Self.listenerToken {
                acceptAndServe(worker, scratch: scratch, spare: spare)
                continue
            }
            let forWait = token & Self.waitBit != 0
            guard let connection = connections.withLock({ $0[token & ~Self.waitBit] }), connection.claim(forWait: forWait) else { continue }
            worker.busySince.store(monotonicMilliseconds(), ordering: .relaxed)
            let step: HTTPConnection.Step
            if forWait {
                connection.stopWaiting(in: epoll, fired: true)
                step = connection.wake(.readable, scratch: scratch, spare: spare)
            } else {
                step = connection.resume(scratch: scratch, spare: spare)
            }
            worker.busySince.store(0, ordering: .relaxed)
            settle(connection, step)
        }
    }

    /// Brings back a connection whose deferred response is ready (from any thread).
    private func resume(deferred connection: HTTPConnection) {
        deferredReady.withLock { $0.append(connection) }
        ready.signal()
    }

    private func serveDeferred(_ worker: Worker, scratch: UnsafeMutableRawBufferPointer, spare: UnsafeMutableRawBufferPointer) {
        ready.clear()
        // Armed again before the queue is emptied: a connection queued from now on wakes a worker.
        do {
            try epoll.rearm(ready.fd, events: Epoll.readable | Epoll.oneShot, token: Self.readyToken)
        } catch {
            Log.error("http workers: \(error)")
        }
        while let connection = deferredReady.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
            worker.busySince.store(monotonicMilliseconds(), ordering: .relaxed)
            let step = connection.finishDeferred(scratch: scratch, spare: spare)
            worker.busySince.store(0, ordering: .relaxed)
            settle(connection, step)
        }
    }

    /// A worker with nothing to do for a while leaves, unless the minimum would not be left.
    private func retire(_ worker: Worker) -> Bool {
        workers.withLock { list in
            guard list.count > minimumWorkers else { return false }
            list.removeAll { $0 === worker }
            return true
        }
    }

    private func settle(_ connection: HTTPConnection, _ step: HTTPConnection.Step) {
        switch step {
        case .park:
            if !connection.park(in: epoll) { finish(connection) }
        case .close:
            finish(connection)
        case .suspend(let deferred):
            // Neither parked nor on a worker: the deferred response brings it back. Until then
            // only this closure (held by the deferred response) knows the connection and the pool.
            deferred.whenReady { [weak self] in self?.resume(deferred: connection) }
        case .wait:
            if !connection.parkWaiting(in: epoll, token: connection.token | Self.waitBit) { resume(deferred: connection) }
        case .wakeOnWorker:
            resume(deferred: connection)
        case .detach:
            // The socket is the handler's now: out of the epoll set and the table, not closed.
            connection.forget(in: epoll)
            connections.withLock { $0[connection.token] = nil }
            openConnections.wrappingSubtract(1, ordering: .acquiringAndReleasing)
        }
    }

    private func finish(_ connection: HTTPConnection) {
        connections.withLock { $0[connection.token] = nil }
        // Closing the descriptor also takes it out of the epoll set.
        connection.close()
        openConnections.wrappingSubtract(1, ordering: .acquiringAndReleasing)
    }

    // MARK: monitor

    private func monitor() {
        var ticks = 0
        while true {
            usleep(Self.monitorTickMicroseconds)
            let now = monotonicMilliseconds()
            let spawned = workers.withLock { list -> [Worker] in
                let stuck = list.count { worker in
                    let since = worker.busySince.load(ordering: .relaxed)
                    return since != 0 && now - since >= Self.stuckAfterMilliseconds
                }
                let wanted = min(minimumWorkers - (list.count - stuck), maximumWorkers - list.count)
                guard wanted > 0 else { return [] }
                let fresh = (0..<wanted).map { _ in Worker() }
                list += fresh
                return fresh
            }
            for worker in spawned { start(worker) }
            ticks += 1
            let shuttingDown = isShuttingDown
            // Deadlines are seconds long; checking them every fifth tick (100 ms) is plenty.
            if ticks % 5 == 0 || shuttingDown { sweep(now: now, shuttingDown: shuttingDown) }
        }
    }

    private func sweep(now: Int, shuttingDown: Bool) {
        let candidates = connections.withLock { table in
            table.values.filter { shuttingDown || $0.deadline.load(ordering: .relaxed) <= now }
        }
        for connection in candidates where connection.claimIfExpired(now: now, shuttingDown: shuttingDown) {
            connection.stopWaiting(in: epoll, fired: false)
            settle(connection, connection.expire())
        }
    }
}
