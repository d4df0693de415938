import Glibc
import SlipwaySystem

/// The part of a relay loop that only its own thread touches: the listeners it accepts on, the
/// connections it relays, and the dispatch of each epoll event to them.
final class RelayReactor {
    /// Without traffic for this long a connection is closed (what the thread-per-connection relay did).
    static let idleMilliseconds = 300_000
    /// How often idle connections, overdue connects and paused listeners are looked at.
    private static let sweepMilliseconds = 250
    /// Listener tokens have this bit; connection tokens (id << 1 | side) stay below it.
    private static let listenerBit: UInt64 = 1 << 62

    private let worker: RelayWorker
    private let epoll: Epoll
    private var connections: [UInt64: RelayConnection] = [:]
    private var listeners: [UInt64: (listener: RelayListener, admit: RelayListener.Admit)] = [:]
    /// Listeners taken out of the epoll set after running out of descriptors, until the next sweep.
    private var paused: [UInt64] = []
    private var nextID: UInt64 = 0
    private var nextSweep = 0
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ByteRelay.bufferSize, alignment: 16)

    init(worker: RelayWorker) {
        self.worker = worker
        epoll = worker.epoll
    }

    deinit { buffer.deallocate() }

    func run() -> Never {
        var events = Epoll.Events(capacity: 64)
        while true {
            do {
                try epoll.wait(&events, timeoutMilliseconds: connections.isEmpty && paused.isEmpty ? -1 : Int32(Self.sweepMilliseconds))
            } catch {
                Log.error("relay loop: \(error)")
                usleep(100_000)
                continue
            }
            let now = monotonicMilliseconds()
            for index in 0..<events.count {
                let event = events[index]
                if event.token == RelayWorker.wakeToken {
                    worker.takeCommands().forEach(obey)
                } else if event.token & Self.listenerBit != 0 {
                    accept(on: event.token & ~Self.listenerBit, now: now)
                } else if let connection = connections[event.token >> 1] {
                    // (An event fetched for a connection that ended earlier in this batch finds none.)
                    let side: RelayConnection.Side = event.token & 1 == 0 ? .client : .server
                    let outcome = connection.handle(event.events, on: side, epoll: epoll, buffer: buffer, now: now, counters: worker.counters)
                    if outcome != .open { finish(connection, outcome) }
                }
            }
            if now >= nextSweep {
                nextSweep = now + Self.sweepMilliseconds
                sweep(now: now)
            }
        }
    }

    private func obey(_ command: RelayWorker.Command) {
        switch command {
        case .listen(let listener, let admit):
            listeners[listener.id] = (listener, admit)
            watch(listener)
        case .unlisten(let id):
            listeners[id] = nil
            paused.removeAll { $0 == id }
        case .rewatchAll:
            for (id, entry) in listeners where !paused.contains(id) {
                entry.listener.withDescriptor { epoll.remove($0) }
                watch(entry.listener)
            }
        }
    }

    private func watch(_ listener: RelayListener) {
        listener.withDescriptor { fd in
            let token = Self.listenerBit | listener.id
            do throws(IOError) {
                do throws(IOError) {
                    try epoll.add(fd, events: Epoll.input | Epoll.exclusive, token: token)
                } catch where error.errno == EINVAL {
                    // A kernel before 4.5 knows no EPOLLEXCLUSIVE: then every loop wakes, and one accepts.
                    try epoll.add(fd, events: Epoll.input, token: token)
                }
            } catch {
                Log.error("relay loop: cannot watch a forwarder's listener: \(error)")
            }
        }
    }

    /// Takes one waiting connection (a listener with more stays ready, so the next wait comes back).
    private func accept(on id: UInt64, now: Int) {
        guard let (listener, admit) = listeners[id] else { return }
        switch listener.accept() {
        case .connection(let client):
            start(client, admit(client), now: now)
        case .none:
            break
        case .exhausted:
            // A listener left in the set would be reported again at once, for ever: rest it instead.
            listener.withDescriptor { epoll.remove($0) }
            paused.append(id)
        }
    }

    private func start(_ client: Int32, _ admission: RelayListener.Admission?, now: Int) {
        guard let admission else { return }
        var dialer = UpstreamDialer(admission.upstream)
        guard let attempt = dialer.next(now: now) else {
            ProxyReply.send(client, status: "502 Bad Gateway", message: "the app is not answering", done: admission.onEnd)
            return
        }
        nextID += 1
        let connection = RelayConnection(id: nextID, client: client, attempt: attempt, dialer: dialer, onEnd: admission.onEnd, now: now)
        do {
            try connection.register(in: epoll)
            connections[nextID] = connection
        } catch {
            connection.end()
        }
    }

    private func sweep(now: Int) {
        for id in paused {
            if let (listener, _) = listeners[id] { watch(listener) }
        }
        paused = []
        for connection in connections.values {
            let outcome = now - connection.lastActivity >= Self.idleMilliseconds
                ? .ended
                : connection.checkDeadline(epoll: epoll, now: now)
            if outcome != .open { finish(connection, outcome) }
        }
    }

    private func finish(_ connection: RelayConnection, _ outcome: RelayConnection.Outcome) {
        connections[connection.id] = nil
        switch outcome {
        case .open: connections[connection.id] = connection
        case .ended: connection.end()
        case .unreachable: connection.answerUnreachable(from: epoll)
        case .bulk:
            if connection.handOff(from: epoll) { worker.counters.handoffs.add(1, ordering: .relaxed) }
        }
    }
}
