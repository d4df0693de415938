import Glibc
import SlipwaySystem
import Synchronization

/// The relay workers that every port forwarder in the process shares, started with the first one.
///
/// The forwarder used to start a thread per connection, which then polled its two sockets for
/// every message: a thread start per connection and a context switch per message left it behind
/// nginx's stream proxy on short traffic (benchmark 5: 0.94 of nginx on new connections, 0.88 on
/// keep-alive). A few workers, as nginx has a few workers, accept and relay any number of connections.
final class RelayPool: Sendable {
    /// Events worth counting, for the tests and for reading a profile.
    final class Counters: Sendable {
        /// Sends that the destination could not take whole, leaving bytes pending.
        let stalls = Atomic<Int>(0)
        /// Connections moved to a thread of their own for bulk data.
        let handoffs = Atomic<Int>(0)
    }

    private static let started = Mutex<RelayPool?>(nil)

    /// The process's workers, started on first use; an error if not even one could start.
    static func shared() throws(IOError) -> RelayPool {
        try started.withLock { workers throws(IOError) -> RelayPool in
            if let workers { return workers }
            let created = try RelayPool()
            workers = created
            return created
        }
    }

    let counters = Counters()
    private let workers: [RelayWorker]
    private let nextListenerID = Atomic<UInt64>(0)
    /// Listeners waiting for `release`; nil when none are held.
    private let held = Mutex<[(listener: RelayListener, admit: RelayListener.Admit)]?>(nil)

    private init() throws(IOError) {
        // A worker per two cores, at most four: the workers share the machine with the apps they relay
        // to. On two cores (benchmark 5) one worker cost 12-15 % less CPU per request than two
        // (fewer wake-ups, more events per wait) and relayed as many requests.
        let count = min(4, max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)) / 2))
        var workers: [RelayWorker] = []
        var failure: IOError?
        for index in 0..<count {
            do {
                workers.append(try RelayWorker(name: "relay-\(index)", counters: counters))
            } catch {
                failure = error
            }
        }
        // Fewer workers than cores still relay everything; only none at all is an error.
        if workers.isEmpty, let failure { throw failure }
        self.workers = workers
    }

    /// The listener for `fd` (a listening socket), to pass to `listen`.
    func listener(_ fd: Int32) -> RelayListener {
        RelayListener(id: nextListenerID.wrappingAdd(1, ordering: .relaxed).newValue, fd: fd)
    }

    /// Has every worker accept on `listener`, relaying each connection as `admit` says (once
    /// `release` is called, while listeners are held).
    func listen(_ listener: RelayListener, admit: @escaping RelayListener.Admit) {
        let started = held.withLock { held -> Bool in
            guard held != nil else { return true }
            held?.append((listener, admit))
            return false
        }
        if started {
            for worker in workers { worker.send(.listen(listener, admit)) }
        }
    }

    /// Closes `listener` at once; the workers then forget it (and its `admit`).
    func stopListening(_ listener: RelayListener) {
        held.withLock { held in held?.removeAll { $0.listener === listener } }
        listener.close(leaving: workers.map(\.epoll))
        for worker in workers { worker.send(.unlisten(listener.id)) }
    }

    /// Has every worker look again for connections waiting on its listeners. After an upgrade's
    /// hand-over: a listener shared with another process sits in both processes' epoll sets,
    /// and with EPOLLEXCLUSIVE a new connection wakes only one of them. If that was the old
    /// process, which then took the listener out of its set, the wake-up is lost, and the
    /// connection would wait in the backlog until the next one arrives. Adding the listener
    /// again makes the kernel check it at once.
    func rewatchAll() {
        for worker in workers { worker.send(.rewatchAll) }
    }

    /// Listeners given to `listen` from now on wait, unaccepted, until `release`: while an
    /// upgrade's new process starts, its apps' ports are not answered 503 before it knows where
    /// their containers are (the old process still accepts on the same sockets meanwhile).
    func hold() {
        held.withLock { held in if held == nil { held = [] } }
    }

    func release() {
        let waiting = held.withLock { held -> [(listener: RelayListener, admit: RelayListener.Admit)] in
            defer { held = nil }
            return held ?? []
        }
        for (listener, admit) in waiting {
            for worker in workers { worker.send(.listen(listener, admit)) }
        }
    }
}
