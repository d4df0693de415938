import Glibc
import SlipwaySystem

/// What `HTTPSClient` reads and writes a request through: TLS, or plain TCP for an `http://` URL.
protocol OutboundConnection: AnyObject {
    func write(_ bytes: [UInt8]) throws(TLSError)
    /// At most `buffer.count` bytes; 0 once the server has closed.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TLSError) -> Int
}

/// One outbound plain TCP connection (an `http://` notification target): the host's addresses
/// tried in turn, every wait bounded by one deadline. Blocking: a thread of its own.
final class PlainClientConnection: OutboundConnection {
    private let fd: Int32
    private let deadline: Int

    init(host: String, port: Int, timeoutMilliseconds: Int) throws(TLSError) {
        deadline = monotonicMilliseconds() + timeoutMilliseconds
        fd = try TLSClientConnection.connect(host: host, port: port, deadline: deadline)
    }

    deinit { close(fd) }

    func write(_ bytes: [UInt8]) throws(TLSError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { offset += n; continue }
            let code = errno
            guard n < 0, code == EAGAIN || code == EWOULDBLOCK || code == EINTR else {
                throw TLSError("write", reason: String(cString: strerror(code)))
            }
            try wait(Int16(POLLOUT), "write")
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TLSError) -> Int {
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n >= 0 { return n }
            let code = errno
            guard code == EAGAIN || code == EWOULDBLOCK || code == EINTR else {
                if code == ECONNRESET { return 0 }
                throw TLSError("read", reason: String(cString: strerror(code)))
            }
            try wait(Int16(POLLIN), "read")
        }
    }

    private func wait(_ events: Int16, _ operation: String) throws(TLSError) {
        let left = deadline - monotonicMilliseconds()
        guard left > 0, (try? Socket.wait(fd, events: events, timeoutMilliseconds: left)) == .ready else {
            throw TLSError(operation, reason: "timed out")
        }
    }
}
