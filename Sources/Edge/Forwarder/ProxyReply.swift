import CSystem
import Glibc
import SlipwaySystem

/// The plain-text HTTP answer a forwarder gives in the app's place: 503 when no version is
/// running, 502 when the app does not take the connection.
enum ProxyReply {
    /// Threads answering at once, for all forwarders. A flood of connections to a stopped app
    /// once started a thread for each.
    static let threads = ThreadBudget(limit: 32)

    /// Answers on a short-lived thread of its own, then closes `fd` and calls `done`. The answer
    /// lingers up to 200 ms, which a relay loop cannot spare. With every answering thread busy,
    /// the answer is one send that cannot block, and the connection closes at once.
    static func send(_ fd: Int32, status: String, message: String, done: @escaping @Sendable () -> Void = {}) {
        guard threads.take() else {
            answerAtOnce(fd, status: status, message: message)
            close(fd)
            done()
            return
        }
        let started = OSThread.detach(name: "reply", stackSize: 128 * 1024) {
            answer(fd, status: status, message: message)
            close(fd)
            threads.give()
            done()
        }
        if !started {
            threads.give()
            answerAtOnce(fd, status: status, message: message)
            close(fd)
            done()
        }
    }

    private static func reply(_ status: String, _ message: String) -> [UInt8] {
        let body = message + "\n"
        return Array("HTTP/1.1 \(status)\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\nRetry-After: 5\r\n\r\n\(body)".utf8)
    }

    /// One attempt on the (non-blocking) socket; what does not fit is lost with the connection.
    static func answerAtOnce(_ fd: Int32, status: String, message: String) {
        _ = reply(status, message).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Sends the reply and closes the write side, blocking.
    static func answer(_ fd: Int32, status: String, message: String) {
        // Accepted sockets are non-blocking; this short exchange is simpler blocking.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        _ = reply(status, message).withUnsafeBytes { ByteRelay.sendAll(fd, $0.baseAddress!, $0.count) }
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
