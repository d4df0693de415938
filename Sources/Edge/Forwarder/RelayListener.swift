import CSystem
import Glibc
import SlipwaySystem
import Synchronization

/// A forwarder's listening socket, which every relay loop accepts on.
///
/// The loops accept themselves, as nginx's workers do: a connection then costs no hand-over
/// between threads. Closing takes the same lock as accepting, so a loop that still holds an event
/// for a closed listener never calls accept on a descriptor number that has been reused since.
final class RelayListener: Sendable {
    /// Where an accepted connection goes, and what to call once its relay is over.
    struct Admission: Sendable {
        let upstream: Upstream
        let onEnd: @Sendable () -> Void
    }

    /// Decides for each accepted connection; nil when the forwarder has answered it itself (503).
    typealias Admit = @Sendable (Int32) -> Admission?

    enum Accepted {
        case connection(Int32)
        /// Nothing is waiting, or the listener is closed.
        case none
        /// The process or system is out of descriptors: stop accepting for a while.
        case exhausted
    }

    let id: UInt64
    private let fd: Mutex<Int32>

    /// Takes over `fd`, a listening socket, and makes it non-blocking: several loops accept on it.
    init(id: UInt64, fd: Int32) {
        self.id = id
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.fd = Mutex(fd)
    }

    /// Runs `body` with the open descriptor; nothing once closed.
    func withDescriptor(_ body: (Int32) -> Void) {
        fd.withLock { fd in if fd >= 0 { body(fd) } }
    }

    /// The next waiting connection, non-blocking and close-on-exec.
    func accept() -> Accepted {
        fd.withLock { fd -> Accepted in
            guard fd >= 0 else { return .none }
            while true {
                let client = accept4(fd, nil, nil, Int32(SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue))
                if client >= 0 { return .connection(client) }
                switch errno {
                case EINTR, ECONNABORTED: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM: return .exhausted
                default: return .none
                }
            }
        }
    }

    /// Takes the socket out of the relay loops' epoll sets, then closes it. Idempotent. A close
    /// alone would not do: after an upgrade hand-over, the process taking over holds the same
    /// socket, and the kernel keeps a socket in an epoll set for as long as any process has it open.
    func close(leaving sets: [Epoll]) {
        fd.withLock { fd in
            if fd >= 0 {
                for epoll in sets { epoll.remove(fd) }
                Glibc.close(fd)
            }
            fd = -1
        }
    }
}
