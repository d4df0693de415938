import Glibc
import Synchronization

/// The relay loops that every port forwarder in the process shares, started with the first one.
///
/// The forwarder used to start a thread per connection, which then polled its two sockets for
/// every message: a thread start per connection and a context switch per message left it behind
/// nginx's stream proxy on short traffic (benchmark 5: 0.94 of nginx on new connections, 0.88 on
/// keep-alive). A few loops, as nginx has a few workers, accept and relay any number of connections.
final class RelayLoops: Sendable {
    /// Events worth counting, for the tests and for reading a profile.
    final class Counters: Sendable {
        /// Sends that the destination could not take whole, leaving bytes pending.
        let stalls = Atomic<Int>(0)
        /// Connections moved to a thread of their own for bulk data.
        let handoffs = Atomic<Int>(0)
    }

    private static let started = Mutex<RelayLoops?>(nil)

    /// The process's loops, started on first use; an error if not even one could start.
    static func shared() throws(IOError) -> RelayLoops {
        try started.withLock { loops throws(IOError) -> RelayLoops in
            if let loops { return loops }
            let created = try RelayLoops()
            loops = created
            return created
        }
    }

    let counters = Counters()
    private let loops: [RelayLoop]
    private let nextListenerID = Atomic<UInt64>(0)

    private init() throws(IOError) {
        // A loop per two cores, at most four: the loops share the machine with the apps they relay
        // to. On two cores (benchmark 5) one loop cost 12-15 % less CPU per request than two
        // (fewer wake-ups, more events per wait) and relayed as many requests.
        let count = min(4, max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)) / 2))
        var loops: [RelayLoop] = []
        var failure: IOError?
        for index in 0..<count {
            do {
                loops.append(try RelayLoop(name: "relay-\(index)", counters: counters))
            } catch {
                failure = error
            }
        }
        // Fewer loops than cores still relay everything; only none at all is an error.
        if loops.isEmpty, let failure { throw failure }
        self.loops = loops
    }

    /// The listener for `fd` (a listening socket), to pass to `listen`.
    func listener(_ fd: Int32) -> RelayListener {
        RelayListener(id: nextListenerID.wrappingAdd(1, ordering: .relaxed).newValue, fd: fd)
    }

    /// Has every loop accept on `listener`, relaying each connection as `admit` says.
    func listen(_ listener: RelayListener, admit: @escaping RelayListener.Admit) {
        for loop in loops { loop.send(.listen(listener, admit)) }
    }

    /// Closes `listener` at once; the loops then forget it (and its `admit`).
    func stopListening(_ listener: RelayListener) {
        listener.close()
        for loop in loops { loop.send(.unlisten(listener.id)) }
    }
}
