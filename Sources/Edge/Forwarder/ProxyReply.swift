import CSystem
import Glibc
import SlipwaySystem

/// The plain-text HTTP answer a forwarder gives in the app's place: 503 when no version is
/// running, 502 when the app does not take the connection.
enum ProxyReply {
    /// Answers on a short-lived thread of its own, then closes `fd` and calls `done`. The answer
    /// lingers up to 200 ms, which a relay loop cannot spare.
    static func send(_ fd: Int32, status: String, message: String, done: @escaping @Sendable () -> Void = {}) {
        let started = OSThread.detach(name: "reply", stackSize: 128 * 1024) {
            answer(fd, status: status, message: message)
            close(fd)
            done()
        }
        if !started {
            close(fd)
            done()
        }
    }

    /// Sends the reply and closes the write side, blocking.
    static func answer(_ fd: Int32, status: String, message: String) {
        // Accepted sockets are non-blocking; this short exchange is simpler blocking.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        let body = message + "\n"
        let text = "HTTP/1.1 \(status)\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\nRetry-After: 5\r\n\r\n\(body)"
        _ = Array(text.utf8).withUnsafeBytes { ByteRelay.sendAll(fd, $0.baseAddress!, $0.count) }
        // Read briefly what the client sent so the close does not become a reset that loses the reply.
        shutdown(fd, Int32(SHUT_WR))
        var scratch = [UInt8](repeating: 0, count: 4096)
        let deadline = monotonicMilliseconds() + 200
        while monotonicMilliseconds() < deadline {
            var p = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
            guard poll(&p, 1, 50) > 0 else { continue }
            if scratch.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) <= 0 { break }
        }
    }
}
