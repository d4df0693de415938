import CSystem
import Glibc

/// A wake-up one thread gives another: an eventfd, readable from the first `signal` until
/// `clear`, so it can sit in a poll or an epoll set beside sockets. Signals given before the
/// waiter clears count as one.
public final class EventSignal: Sendable {
    public let fd: Int32

    public init() throws(IOError) {
        fd = try syscall("eventfd") { eventfd(0, SLIPWAY_EFD_CLOEXEC | SLIPWAY_EFD_NONBLOCK) }
    }

    deinit { close(fd) }

    public func signal() {
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    /// Makes the descriptor unreadable again, without waiting.
    public func clear() {
        var count: UInt64 = 0
        _ = read(fd, &count, 8)
    }

    /// Waits until signalled or `timeoutMilliseconds` pass, then clears.
    public func wait(timeoutMilliseconds: Int) {
        _ = try? Socket.wait(fd, events: Int16(POLLIN), timeoutMilliseconds: timeoutMilliseconds)
        clear()
    }
}
