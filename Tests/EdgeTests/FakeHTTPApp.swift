import Foundation
import Glibc
import Synchronization
@testable import Edge
import SlipwayHTTP
import SlipwaySystem

/// A small HTTP/1.1 app on loopback for the edge's tests: a thread per connection, keep-alive,
/// and a path per behaviour. Every answer names the app (`X-App`), and the app records each
/// request's head exactly as it arrived, and how many connections it accepted.
///
/// - `/echo`: 200 with the raw head, `--`, and the body; its answer carries hop-by-hop headers
///   the edge must remove.
/// - `/chunked`: a chunked answer in three chunks.
/// - `/close`: an answer without a length, ended by the close.
/// - `/slow`: waits 1.5 s, then answers.
/// - `/drop`: closes without answering.
/// - `/hints`: 103 Early Hints, then 200.
/// - `/ws`: 101 Switching Protocols, then echoes bytes until the client closes.
final class FakeHTTPApp: Sendable {
    let name: String
    let port: Int
    private let listener: Int32
    private let stopped = Atomic<Bool>(false)
    let accepted = Atomic<Int>(0)
    let heads = Mutex<[String]>([])

    init(name: String) throws {
        self.name = name
        listener = try Socket.listen(host: "127.0.0.1", port: 0)
        port = Socket.localPort(listener)
        _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) & ~O_NONBLOCK)
        Thread.detachNewThread { [self] in
            while true {
                let fd = accept(listener, nil, nil)
                if fd < 0 {
                    if stopped.load(ordering: .acquiring) { Glibc.close(listener); return }
                    continue
                }
                accepted.wrappingAdd(1, ordering: .relaxed)
                Thread.detachNewThread { [self] in
                    serve(fd)
                    Glibc.close(fd)
                }
            }
        }
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
        shutdown(listener, Int32(SHUT_RDWR))
    }

    var lastHead: String { heads.withLock { $0.last ?? "" } }

    private func serve(_ fd: Int32) {
        var input = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        func more() -> Bool {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return false }
            input += buffer[0..<n]
            return true
        }
        while true {
            var length = 0
            while true {
                if case .complete(let n) = RequestHeadParser.scan(input[...], limits: HTTPLimits()) { length = n; break }
                guard more() else { return }
            }
            guard let head = try? RequestHeadParser.parse(input[0..<length]), let framing = try? BodyFraming.of(head) else { return }
            heads.withLock { $0.append(String(decoding: input[0..<length], as: UTF8.self)) }
            input.removeFirst(length)
            var body = [UInt8]()
            switch framing {
            case .none: break
            case .contentLength(let n):
                while input.count < n { guard more() else { return } }
                body = Array(input[0..<n])
                input.removeFirst(n)
            case .chunked:
                var decoder = ChunkedDecoder(limits: HTTPLimits(), bodyLimit: .max)
                while true {
                    var index = 0
                    guard let done = try? decoder.feed(input, index: &index) else { return }
                    input.removeFirst(index)
                    if done { break }
                    guard more() else { return }
                }
                body = decoder.body
            }
            guard answer(fd, head, body) else { return }
        }
    }

    /// False when the connection is to close.
    private func answer(_ fd: Int32, _ head: RequestHead, _ body: [UInt8]) -> Bool {
        let me = "X-App: \(name)\r\n"
        switch head.path {
        case "/echo":
            let text = Array((heads.withLock { $0.last ?? "" } + "--\n").utf8) + body
            return send(fd, "HTTP/1.1 200 OK\r\n\(me)Content-Length: \(text.count)\r\nKeep-Alive: timeout=5\r\nConnection: X-Secret\r\n"
                        + "X-Secret: leak\r\nProxy-Connection: keep-alive\r\nTrailer: X-T\r\n\r\n", text)
        case "/chunked":
            return send(fd, "HTTP/1.1 200 OK\r\n\(me)Transfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n8;ext=1\r\nchunked \r\n5\r\nworld\r\n0\r\nX-T: t\r\n\r\n", [])
        case "/close":
            _ = send(fd, "HTTP/1.1 200 OK\r\n\(me)Content-Type: text/plain\r\n\r\n", Array("until the close".utf8))
            return false
        case "/slow":
            usleep(1_500_000)
            return send(fd, "HTTP/1.1 200 OK\r\n\(me)Content-Length: 4\r\n\r\n", Array("slow".utf8))
        case "/drop":
            return false
        case "/hints":
            return send(fd, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\n\(me)Content-Length: 2\r\n\r\n", Array("ok".utf8))
        case "/ws":
            guard send(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\(me)\r\n", Array("hi".utf8)) else { return false }
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return false }
                guard TestBytes.send(fd, Array(buffer[0..<n])) else { return false }
            }
        default:
            return send(fd, "HTTP/1.1 200 OK\r\n\(me)Content-Length: \(head.path.utf8.count)\r\n\r\n", Array(head.path.utf8))
        }
    }

    private func send(_ fd: Int32, _ head: String, _ body: [UInt8]) -> Bool {
        TestBytes.send(fd, Array(head.utf8) + body)
    }
}

/// Routes for the tests: a fixed table of host names to apps.
struct FakeRoutes: EdgeRoutes {
    var apps: [String: EdgeApp] = [:]
    var dashboard: String?

    func route(host: String) -> EdgeRoute {
        let name = String(host.lowercased().split(separator: ":").first ?? "")
        if name == dashboard { return .dashboard }
        return apps[name].map { .app($0) } ?? .unknown
    }
}

/// One answer as a client reads it.
struct ClientResponse {
    var head: ResponseHead
    var body: [UInt8]
    /// The answer came chunked.
    var chunked: Bool
    var text: String { String(decoding: body, as: UTF8.self) }
    var status: Int { head.status }
    func header(_ name: String) -> String? { head.headers[name] }
}

/// A blocking client that reads answers one at a time, keeping what follows for the next.
final class EdgeClient {
    let fd: Int32
    private var input = [UInt8]()

    init(port: Int) throws {
        fd = try TestBytes.connect(port: port)
    }

    deinit { close(fd) }

    func send(_ text: String) { _ = TestBytes.send(fd, Array(text.utf8)) }
    func send(_ bytes: [UInt8]) { _ = TestBytes.send(fd, bytes) }

    private func more() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return false }
        input += buffer[0..<n]
        return true
    }

    /// The next answer, or nil if the connection ended (or stalled 10 s) first.
    func read(method: String = "GET") -> ClientResponse? {
        var head: ResponseHead
        while true {
            if case .complete(let h, let n) = ResponseHeadParser.parse(input[...], limits: HTTPLimits()) {
                head = h
                input.removeFirst(n)
                if h.status >= 100 && h.status < 200 && h.status != 101 { continue }
                break
            }
            guard more() else { return nil }
        }
        guard let framing = try? ResponseFraming.of(head, requestMethod: method) else { return nil }
        switch framing {
        case .none:
            return ClientResponse(head: head, body: [], chunked: false)
        case .contentLength(let n):
            while input.count < n { guard more() else { return nil } }
            defer { input.removeFirst(n) }
            return ClientResponse(head: head, body: Array(input[0..<n]), chunked: false)
        case .chunked:
            var decoder = ChunkedDecoder(limits: HTTPLimits(), bodyLimit: .max)
            while true {
                var index = 0
                guard let done = try? decoder.feed(input, index: &index) else { return nil }
                input.removeFirst(index)
                if done { return ClientResponse(head: head, body: decoder.body, chunked: true) }
                guard more() else { return nil }
            }
        case .untilClose:
            while more() {}
            defer { input = [] }
            return ClientResponse(head: head, body: input, chunked: false)
        }
    }

    /// Whether the server closed the connection (reads nothing more within a second).
    func isClosed() -> Bool {
        var probe = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&probe, 1, 1000) > 0 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK)) <= 0
    }

    /// Bytes left over after the answers read so far, then what arrives.
    func readRaw(count: Int) -> [UInt8] {
        while input.count < count { guard more() else { break } }
        defer { input.removeFirst(min(count, input.count)) }
        return Array(input.prefix(count))
    }
}
