import CSystem
import Glibc
import SlipwaySystem
import Synchronization

/// One relay thread and its epoll set, as other threads see it: they can only send it commands.
/// The thread itself runs a `RelayReactor`, which accepts connections on every forwarder's
/// listener and relays them.
final class RelayWorker: Sendable {
    enum Command: Sendable {
        /// Accept on this listener too, asking `admit` about each connection.
        case listen(RelayListener, RelayListener.Admit)
        /// The listener is closed: forget it.
        case unlisten(UInt64)
        /// Take every listener out of the epoll set and put it back, which looks at once for
        /// connections already waiting (see `RelayPool.rewatchAll`).
        case rewatchAll
    }

    static let wakeToken = UInt64.max

    let epoll: Epoll
    let counters: RelayPool.Counters
    private let wake: EventSignal
    private let inbox = Mutex<[Command]>([])

    init(name: String, counters: RelayPool.Counters) throws(IOError) {
        self.counters = counters
        epoll = try Epoll()
        wake = try EventSignal()
        try epoll.add(wake.fd, events: Epoll.readable, token: Self.wakeToken)
        guard OSThread.detach(name: name, stackSize: 256 * 1024, { [self] in RelayReactor(worker: self).run() }) else {
            throw IOError(function: "pthread_create", errno: EAGAIN)
        }
    }

    func send(_ command: Command) {
        let wasEmpty = inbox.withLock { queue in
            queue.append(command)
            return queue.count == 1
        }
        // Until the loop empties the inbox, the first wake-up stands for every command after it.
        if wasEmpty { wake.signal() }
    }

    /// For the loop's own thread, after a wake-up.
    func takeCommands() -> [Command] {
        wake.clear()
        return inbox.withLock { queue in
            defer { queue = [] }
            return queue
        }
    }
}
