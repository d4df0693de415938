import CSystem
import Glibc

/// One end of a Unix socket of type SOCK_SEQPACKET: messages arrive whole, and a message can
/// carry open descriptors (SCM_RIGHTS). The upgrade hand-over talks over it: the running process
/// passes its listening sockets to the one taking over, as nginx's binary upgrade and HAProxy's
/// seamless reload do.
public final class LocalChannel: Sendable {
    /// A message and the descriptors that came with it (close-on-exec, the receiver's to close).
    public struct Message: Sendable {
        public let text: String
        public let descriptors: [Int32]
    }

    /// More than this is refused by the kernel in one message (SCM_MAX_FD).
    public static let maximumDescriptors = 253
    /// A message's text is at most this long; the hand-over's list of sockets is far shorter.
    public static let maximumText = 64 * 1024

    public let fd: Int32

    init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// A listening socket at `path` (a file left there by an earlier run is replaced), which only
    /// its owner may connect to: the mode is 0600, and `accept` checks the peer's user id too.
    public static func listen(path: String) throws(IOError) -> Int32 {
        var address = try socketAddress(path)
        let fd = try syscall("socket") { socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        unlink(path)
        do throws(IOError) {
            try withUnsafePointer(to: &address) { pointer throws(IOError) in
                _ = try syscall("bind") {
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                }
            }
            try syscall("chmod") { chmod(path, 0o600) }
            try syscall("listen") { Glibc.listen(fd, 4) }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// The next connection on `listener` (blocking).
    public static func accept(_ listener: Int32) throws(IOError) -> LocalChannel {
        LocalChannel(fd: try syscall("accept4") { accept4(listener, nil, nil, Int32(SOCK_CLOEXEC.rawValue)) })
    }

    /// A connection to the listener at `path`.
    public static func connect(path: String) throws(IOError) -> LocalChannel {
        var address = try socketAddress(path)
        let fd = try syscall("socket") { socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        let channel = LocalChannel(fd: fd)
        try withUnsafePointer(to: &address) { pointer throws(IOError) in
            _ = try syscall("connect") {
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        return channel
    }

    /// The user id of the process at the other end.
    public var peerUserID: Int? {
        let uid = slipway_peer_uid(fd)
        return uid < 0 ? nil : uid
    }

    /// Sends `text` as one message, with `descriptors` (the receiver gets its own copies).
    public func send(_ text: String, descriptors: [Int32] = []) throws(IOError) {
        let bytes = Array(text.utf8)
        guard bytes.count <= Self.maximumText, descriptors.count <= Self.maximumDescriptors else {
            throw IOError(function: "sendmsg", errno: EMSGSIZE)
        }
        try syscall("sendmsg") {
            bytes.withUnsafeBytes { data in
                descriptors.withUnsafeBufferPointer { fds in
                    slipway_send_fds(fd, data.baseAddress, data.count, fds.baseAddress, Int32(fds.count))
                }
            }
        }
    }

    /// The next message, or nil when the other end has closed. `timeoutMilliseconds` (-1: none)
    /// bounds the wait; past it, an ETIMEDOUT error.
    public func receive(timeoutMilliseconds: Int = -1) throws(IOError) -> Message? {
        if timeoutMilliseconds >= 0 {
            guard try Socket.wait(fd, events: Int16(POLLIN), timeoutMilliseconds: timeoutMilliseconds) == .ready else {
                throw IOError(function: "recvmsg", errno: ETIMEDOUT)
            }
        }
        var buffer = [UInt8](repeating: 0, count: Self.maximumText)
        var fds = [Int32](repeating: -1, count: Self.maximumDescriptors)
        var count: Int32 = 0
        let received = try syscall("recvmsg") {
            buffer.withUnsafeMutableBytes { data in
                fds.withUnsafeMutableBufferPointer { out in
                    slipway_recv_fds(fd, data.baseAddress, data.count, out.baseAddress, Int32(out.count), &count)
                }
            }
        }
        let descriptors = Array(fds.prefix(Int(count)))
        if received == 0 && descriptors.isEmpty { return nil }
        return Message(text: String(decoding: buffer.prefix(received), as: UTF8.self), descriptors: descriptors)
    }

    private static func socketAddress(_ path: String) throws(IOError) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        // sun_path holds 108 bytes with the terminating zero.
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw IOError(function: "socket path \(path)", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }
}
