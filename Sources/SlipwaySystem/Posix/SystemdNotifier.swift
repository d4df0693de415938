import CSystem
import Glibc

/// Tells systemd how the service is (sd_notify's protocol: a datagram to $NOTIFY_SOCKET), for a
/// unit of Type=notify: READY=1 once serving, and after an upgrade, MAINPID= the process that
/// took over, so systemd follows it instead of treating the old one's exit as the service's end.
/// Does nothing outside systemd.
public struct SystemdNotifier: Sendable {
    private let path: String?

    public init(environment: [String: String]) {
        let path = environment["NOTIFY_SOCKET"] ?? ""
        // "@name" is an abstract socket; anything else must be an absolute path.
        self.path = path.hasPrefix("/") || path.hasPrefix("@") ? path : nil
    }

    public var isActive: Bool { path != nil }

    /// Sends `state` ("READY=1", "MAINPID=123\nREADY=1", ...); failures are logged, never fatal.
    public func notify(_ state: String) {
        guard let path else { return }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            Log.warning("systemd: NOTIFY_SOCKET is too long a path")
            return
        }
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        // An abstract name's length counts exactly its bytes; a path's includes the zero.
        let length = MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            Log.warning("systemd: cannot make a socket to notify: \(String(cString: strerror(errno)))")
            return
        }
        defer { close(fd) }
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, message, message.count, Int32(MSG_NOSIGNAL), $0, socklen_t(length))
            }
        }
        if sent < 0 { Log.warning("systemd: cannot notify \(path): \(String(cString: strerror(errno)))") }
    }
}
