import CSystem
import Glibc
import Synchronization

/// One relay thread and its epoll set. It relays any number of connections, none of which can
/// hold up another: every socket is non-blocking, and a connection that carries bulk data moves
/// to a thread of its own (`RelayConnection.handOff`).
final class RelayLoop: Sendable {
    /// A connection for the loop to take over: the accepted client, and the connect to its upstream
    /// already started (by the accept thread, which thus never waits for it).
    struct Request: Sendable {
        let client: Int32
        let attempt: UpstreamDialer.Attempt
        let dialer: UpstreamDialer
        /// Called once, on whichever thread the relay ends.
        let onEnd: @Sendable () -> Void
    }

    /// Without traffic for this long a connection is closed (what the thread-per-connection relay did).
    static let idleMilliseconds = 300_000
    /// How often idle connections and overdue connects are looked for.
    private static let sweepMilliseconds = 250
    private static let wakeToken = UInt64.max

    private let epoll: Epoll
    private let wakeFD: Int32
    private let inbox = Mutex<[Request]>([])
    private let counters: RelayLoops.Counters

    init(name: String, counters: RelayLoops.Counters) throws(IOError) {
        self.counters = counters
        epoll = try Epoll()
        wakeFD = try syscall("eventfd") { eventfd(0, SLIPWAY_EFD_CLOEXEC | SLIPWAY_EFD_NONBLOCK) }
        do {
            try epoll.add(wakeFD, events: Epoll.readable, token: Self.wakeToken)
        } catch {
            close(wakeFD)
            throw error
        }
        guard OSThread.detach(name: name, stackSize: 256 * 1024, { [self] in run() }) else {
            close(wakeFD)
            throw IOError(function: "pthread_create", errno: EAGAIN)
        }
    }

    /// Hands a connection to the loop's thread.
    func add(_ request: Request) {
        let wasEmpty = inbox.withLock { queue in
            queue.append(request)
            return queue.count == 1
        }
        // One wake-up per batch: until the loop empties the inbox, the first write stands for all.
        if wasEmpty {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    private func run() {
        var connections: [UInt64: RelayConnection] = [:]
        var nextID: UInt64 = 0
        var events = Epoll.Events(capacity: 64)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ByteRelay.bufferSize, alignment: 16)
        var nextSweep = 0
        while true {
            do {
                try epoll.wait(&events, timeoutMilliseconds: connections.isEmpty ? -1 : Int32(Self.sweepMilliseconds))
            } catch {
                Log.error("relay loop: \(error)")
                usleep(100_000)
                continue
            }
            let now = monotonicMilliseconds()
            var woken = false
            for index in 0..<events.count {
                let event = events[index]
                if event.token == Self.wakeToken {
                    woken = true
                    continue
                }
                // An event already fetched for a connection that ended earlier in this batch finds nothing.
                guard let connection = connections[event.token >> 1] else { continue }
                let side: RelayConnection.Side = event.token & 1 == 0 ? .client : .server
                let outcome = connection.handle(event.events, on: side, epoll: epoll, buffer: buffer, now: now, counters: counters)
                if outcome != .open { finish(connection, outcome, in: &connections) }
            }
            // New connections join after the batch, so none can be given an event meant for the ended one.
            if woken {
                var count: UInt64 = 0
                _ = read(wakeFD, &count, 8)
                for request in inbox.withLock({ queue in defer { queue.removeAll(keepingCapacity: true) }; return queue }) {
                    nextID += 1
                    let connection = RelayConnection(id: nextID, request: request, now: now)
                    do {
                        try connection.register(in: epoll)
                        connections[nextID] = connection
                    } catch {
                        connection.end()
                    }
                }
            }
            if now >= nextSweep {
                nextSweep = now + Self.sweepMilliseconds
                sweep(&connections, now: now)
            }
        }
    }

    private func sweep(_ connections: inout [UInt64: RelayConnection], now: Int) {
        for connection in connections.values {
            let outcome = now - connection.lastActivity >= Self.idleMilliseconds
                ? .ended
                : connection.checkDeadline(epoll: epoll, now: now)
            if outcome != .open { finish(connection, outcome, in: &connections) }
        }
    }

    private func finish(_ connection: RelayConnection, _ outcome: RelayConnection.Outcome, in connections: inout [UInt64: RelayConnection]) {
        connections[connection.id] = nil
        switch outcome {
        case .open: connections[connection.id] = connection
        case .ended: connection.end()
        case .unreachable: connection.answerUnreachable(from: epoll)
        case .bulk:
            if connection.handOff(from: epoll) { counters.handoffs.add(1, ordering: .relaxed) }
        }
    }
}
