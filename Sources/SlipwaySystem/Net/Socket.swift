import CSystem
import Glibc

/// Thin helpers over POSIX sockets. Every descriptor is opened close-on-exec so the git and
/// docker processes Slipway spawns never inherit a client connection or the listener.
public enum Socket {
    /// A listening TCP socket on host:port ("" or "*" for every address).
    /// A socket inherited from the process this one took over from (`InheritedListeners`) is
    /// used as it is.
    public static func listen(host: String, port: Int, backlog: Int32 = 1024) throws -> Int32 {
        if let inherited = InheritedListeners.shared.take(host: host, port: port) { return inherited }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let node = (host.isEmpty || host == "*") ? nil : host
        let rc = getaddrinfo(node, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw ListenError(message: "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError: (any Error)?
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            do {
                let fd = try syscall("socket") { socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0) }
                var one: Int32 = 1
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
                do {
                    try syscall("bind") { bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) }
                    try syscall("listen") { Glibc.listen(fd, backlog) }
                } catch {
                    close(fd)
                    throw error
                }
                return fd
            } catch {
                lastError = error
            }
        }
        throw lastError.map { ListenError(message: "cannot listen on \(host):\(port): \($0)") } ?? ListenError(message: "no address for \(host)")
    }

    /// A non-blocking TCP connection to an IPv4 loopback or numeric address, within a deadline.
    public static func connect(ipv4 host: String, port: Int, timeoutMilliseconds: Int) throws(IOError) -> Int32 {
        let (fd, connected) = try beginConnect(ipv4: host, port: port)
        if !connected {
            let ready = (try? wait(fd, events: Int16(POLLOUT), timeoutMilliseconds: timeoutMilliseconds)) == .ready
            guard ready else {
                close(fd)
                throw IOError(function: "connect", errno: ETIMEDOUT)
            }
            let code = connectError(fd)
            if code != 0 { close(fd); throw IOError(function: "connect", errno: code) }
        }
        return fd
    }

    /// Starts a non-blocking TCP connection without waiting for it, for callers that wait on many
    /// sockets at once. Unless `connected`, the socket turns writable when the attempt ends, and
    /// `connectError` then says how it ended.
    public static func beginConnect(ipv4 host: String, port: Int) throws(IOError) -> (fd: Int32, connected: Bool) {
        let fd = try syscall("socket") { socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc == 0 { return (fd, true) }
        let code = errno
        // EINTR: the connect goes on in the background, exactly as with EINPROGRESS.
        guard code == EINPROGRESS || code == EINTR else { close(fd); throw IOError(function: "connect", errno: code) }
        return (fd, false)
    }

    /// How a connect that `beginConnect` started ended: 0 when connected, else its errno.
    public static func connectError(_ fd: Int32) -> Int32 {
        var soError: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length) < 0 { return errno }
        return soError
    }

    /// Whether host:port can be bound right now.
    public static func canBind(host: String, port: Int) -> Bool {
        guard let fd = try? listen(host: host, port: port, backlog: 1) else { return false }
        close(fd)
        return true
    }

    /// The local port a socket is bound to (for --port 0).
    public static func localPort(_ fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return port(of: storage)
    }

    public static func port(of storage: sockaddr_storage) -> Int {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        default:
            return 0
        }
    }

    /// "127.0.0.1" or "::1" for a peer address.
    public static func address(of storage: sockaddr_storage) -> String {
        var storage = storage
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.ss_family) {
        case AF_INET:
            withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                var addr = p.pointee.sin_addr
                _ = inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count))
            } }
        case AF_INET6:
            withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                var addr = p.pointee.sin6_addr
                _ = inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
            } }
        default:
            return "unknown"
        }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Waits until `fd` is ready for `events` or `wakeFD` fires. Returns false on timeout.
    public enum WaitResult { case ready, timeout, woken }

    public static func wait(_ fd: Int32, events: Int16, timeoutMilliseconds: Int, wakeFD: Int32? = nil) throws(IOError) -> WaitResult {
        var fds = [pollfd(fd: fd, events: events, revents: 0)]
        if let wakeFD { fds.append(pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)) }
        let n = try syscall("poll") { poll(&fds, nfds_t(fds.count), Int32(clamping: max(0, timeoutMilliseconds))) }
        if n == 0 { return .timeout }
        if fds.count > 1, fds[1].revents != 0 { return .woken }
        return .ready
    }
}

public struct ListenError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
