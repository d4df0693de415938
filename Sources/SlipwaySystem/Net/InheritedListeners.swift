import Glibc
import Synchronization

/// Listening sockets this process received from the one it takes over from (`serve --takeover`),
/// until something here listens on the same address: then `Socket.listen` hands out the inherited
/// socket instead of binding a new one, which the running process still holds. Connections
/// waiting in its backlog are served by whichever process accepts them first; none is refused.
public final class InheritedListeners: Sendable {
    public static let shared = InheritedListeners()

    private let sockets = Mutex<[String: Int32]>([:])

    init() {}

    private static func key(host: String, port: Int) -> String { "\(host) \(port)" }

    /// Keeps `fd`, the listener the other process had for host:port.
    public func add(host: String, port: Int, fd: Int32) {
        let replaced = sockets.withLock { $0.updateValue(fd, forKey: Self.key(host: host, port: port)) }
        if let replaced { close(replaced) }
    }

    /// The inherited listener for host:port, now the caller's; nil when there is none.
    public func take(host: String, port: Int) -> Int32? {
        guard port != 0 else { return nil }
        return sockets.withLock { $0.removeValue(forKey: Self.key(host: host, port: port)) }
    }

    public var count: Int { sockets.withLock { $0.count } }

    /// Closes what nothing claimed (a port the new configuration no longer uses); returns their
    /// addresses, for the log.
    @discardableResult
    public func closeUnclaimed() -> [String] {
        let left = sockets.withLock { s -> [String: Int32] in
            defer { s.removeAll() }
            return s
        }
        for fd in left.values { close(fd) }
        return left.keys.sorted()
    }
}
