import CSystem
import Glibc
import Synchronization

/// One relay thread and its epoll set, as other threads see it: they can only send it commands.
/// The thread itself runs a `RelayReactor`, which accepts connections on every forwarder's
/// listener and relays them.
final class RelayLoop: Sendable {
    enum Command: Sendable {
        /// Accept on this listener too, asking `admit` about each connection.
        case listen(RelayListener, RelayListener.Admit)
        /// The listener is closed: forget it.
        case unlisten(UInt64)
    }

    static let wakeToken = UInt64.max

    let epoll: Epoll
    let counters: RelayLoops.Counters
    private let wakeFD: Int32
    private let inbox = Mutex<[Command]>([])

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
        guard OSThread.detach(name: name, stackSize: 256 * 1024, { [self] in RelayReactor(loop: self).run() }) else {
            close(wakeFD)
            throw IOError(function: "pthread_create", errno: EAGAIN)
        }
    }

    func send(_ command: Command) {
        let wasEmpty = inbox.withLock { queue in
            queue.append(command)
            return queue.count == 1
        }
        // Until the loop empties the inbox, the first wake-up stands for every command after it.
        if wasEmpty {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    /// For the loop's own thread, after a wake-up.
    func takeCommands() -> [Command] {
        var count: UInt64 = 0
        _ = read(wakeFD, &count, 8)
        return inbox.withLock { queue in
            defer { queue = [] }
            return queue
        }
    }
}
