import CSystem
import Glibc

/// An epoll set: descriptors waiting for bytes, each known by a token the caller chooses.
///
/// Used one-shot: an event disarms its descriptor until `rearm`, so exactly one thread handles
/// each readiness even when several threads wait on the same set. A set that only one thread
/// waits on can use `edgeTriggered` instead: a descriptor is reported once per new readiness and
/// stays armed, so nothing needs rearming (the port forwarder's relay loops do this).
public final class Epoll: Sendable {
    public struct Event: Sendable {
        public let token: UInt64
        public let events: UInt32
        public var isReadable: Bool { events & (SLIPWAY_EPOLLIN | SLIPWAY_EPOLLHUP | SLIPWAY_EPOLLERR | SLIPWAY_EPOLLRDHUP) != 0 }
        public var isWritable: Bool { events & (SLIPWAY_EPOLLOUT | SLIPWAY_EPOLLHUP | SLIPWAY_EPOLLERR) != 0 }
    }

    public static let readable = SLIPWAY_EPOLLIN | SLIPWAY_EPOLLRDHUP
    /// Bytes or connections waiting, without the peer's half-close, which `exclusive` refuses.
    public static let input = SLIPWAY_EPOLLIN
    public static let writable = SLIPWAY_EPOLLOUT
    public static let oneShot = SLIPWAY_EPOLLONESHOT
    public static let edgeTriggered = SLIPWAY_EPOLLET
    /// For a descriptor in several sets (a listener several loops accept on): a new connection
    /// wakes one waiting set, not all of them.
    public static let exclusive = SLIPWAY_EPOLLEXCLUSIVE

    public let fd: Int32

    public init() throws(IOError) {
        fd = try syscall("epoll_create1") { epoll_create1(Int32(SLIPWAY_EPOLL_CLOEXEC)) }
    }

    deinit { close(fd) }

    public func add(_ descriptor: Int32, events: UInt32, token: UInt64) throws(IOError) {
        try syscall("epoll_ctl(ADD)") { slipway_epoll_ctl(fd, EPOLL_CTL_ADD, descriptor, events, token) }
    }

    /// Arms a one-shot descriptor again; the kernel reports it at once if it is already ready.
    public func rearm(_ descriptor: Int32, events: UInt32, token: UInt64) throws(IOError) {
        try syscall("epoll_ctl(MOD)") { slipway_epoll_ctl(fd, EPOLL_CTL_MOD, descriptor, events, token) }
    }

    public func remove(_ descriptor: Int32) {
        _ = slipway_epoll_ctl(fd, EPOLL_CTL_DEL, descriptor, 0, 0)
    }

    /// Room for the events of one wait, reused from wait to wait so waiting allocates nothing.
    public struct Events {
        fileprivate var raw: [slipway_epoll_event]
        public fileprivate(set) var count = 0

        public init(capacity: Int) {
            raw = [slipway_epoll_event](repeating: slipway_epoll_event(), count: min(64, max(1, capacity)))
        }

        public subscript(index: Int) -> Event {
            Event(token: raw[index].token, events: raw[index].events)
        }
    }

    /// Waits up to `timeoutMilliseconds` (-1: for ever); `events.count` says how many arrived
    /// (0 on timeout or a signal).
    public func wait(_ events: inout Events, timeoutMilliseconds: Int32) throws(IOError) {
        let n = slipway_epoll_wait(fd, &events.raw, Int32(events.raw.count), timeoutMilliseconds)
        if n < 0 {
            events.count = 0
            if errno == EINTR { return }
            throw IOError(function: "epoll_wait", errno: errno)
        }
        events.count = Int(n)
    }
}
