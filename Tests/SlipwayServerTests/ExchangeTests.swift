import Glibc
import SlipwayHTTP
import SlipwaySystem
import Synchronization
import XCTest
@testable import SlipwayServer

/// A dispatcher that takes every exchange over, as the HTTP edge does, over real loopback
/// connections: bodies streamed piece by piece, answers written by the handler, keep-alive and
/// pipelining after a take-over, and the socket handed over.
final class ExchangeTests: XCTestCase {
    /// `/sum` streams the body and answers with its length and a checksum; `/local` answers with a
    /// response of the server's making without reading the body; `/detach` takes the socket.
    private final class StreamingDispatcher: RequestDispatcher {
        let largestPiece = Atomic<Int>(0)
        let detached = Mutex<[(Int32, [UInt8])]>([])

        func dispose(of head: RequestHead, remoteAddress: String) -> Disposition {
            .takeOver { [self] exchange in
                switch exchange.head.path {
                case "/sum":
                    exchange.bodyLimit = 1 << 30
                    var count = 0
                    var sum: UInt64 = 0
                    do {
                        while let piece = try exchange.nextBodyPiece() {
                            count += piece.count
                            for byte in piece { sum &+= UInt64(byte) }
                            if piece.count > largestPiece.load(ordering: .relaxed) { largestPiece.store(piece.count, ordering: .relaxed) }
                        }
                    } catch let error as HTTPError {
                        return exchange.respond(error: error)
                    } catch {
                        return exchange.abandon()
                    }
                    let body = "\(count) \(sum)"
                    let keep = exchange.clientKeepsAlive
                    let head = "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\(keep ? "" : "Connection: close\r\n")\r\n"
                    do {
                        try exchange.write(Array((head + body).utf8))
                    } catch {
                        return exchange.abandon()
                    }
                    return exchange.finish(keepAlive: keep)
                case "/detach":
                    let client = exchange.detach()
                    detached.withLock { $0.append((client.fd, client.pending)) }
                    return client.outcome
                default:
                    return exchange.respond(.text("local\n", status: 404))
                }
            }
        }

        func errorResponse(_ error: any HTTPResponseError, path: String) -> HTTPResponse { .error(error, format: .text) }

        func respond(to request: HTTPRequest, deferred make: DeferredResponse.Maker) -> HTTPResponse {
            (try? make()) ?? .text("failed", status: 500)
        }
    }

    private var server: HTTPServer!
    private var dispatcher: StreamingDispatcher!
    private var clients: [Int32] = []

    override func setUpWithError() throws {
        dispatcher = StreamingDispatcher()
        var options = ServerOptions()
        options.port = 0
        options.bodyTimeoutMilliseconds = 500
        server = try HTTPServer(options: options, dispatcher: dispatcher)
        let server = self.server!
        OSThread.detach(name: "test-accept") { server.run() }
    }

    override func tearDown() {
        clients.forEach { close($0) }
        server.shutdown()
        dispatcher.detached.withLock { $0.forEach { close($0.0) } }
    }

    private func connect() throws -> Int32 {
        let fd = try Socket.connect(ipv4: "127.0.0.1", port: server.port, timeoutMilliseconds: 2000)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        clients.append(fd)
        return fd
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            offset += n
        }
    }

    private func send(_ fd: Int32, _ text: String) { send(fd, Array(text.utf8)) }

    private func expectedSum(_ bytes: [UInt8]) -> String {
        "\(bytes.count) \(bytes.reduce(UInt64(0)) { $0 &+ UInt64($1) })"
    }

    func testAContentLengthBodyStreamsThroughOneBufferAndTheConnectionCarriesOn() throws {
        let body = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let fd = try connect()
        send(fd, "POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n")
        send(fd, body)
        XCTAssertTrue(readAnswer(fd, until: "\r\n\r\n").hasSuffix(expectedSum(body)))
        XCTAssertLessThanOrEqual(dispatcher.largestPiece.load(ordering: .relaxed), ConnectionPool.readBufferSize,
                                 "a body is handed out a buffer at a time, never whole")
        // Kept alive after the take-over: the next request on the same connection is served.
        send(fd, "POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
        let answer = readAnswer(fd)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200 OK"), answer)
        XCTAssertTrue(answer.hasSuffix(expectedSum(Array("abc".utf8))), answer)
    }

    func testAChunkedBodyIsDecodedAndPipelinedRequestsAreServedInOrder() throws {
        let fd = try connect()
        send(fd, "POST /sum HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nT: 1\r\n\r\n"
             + "POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nxy"
             + "GET /local HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let answer = readAnswer(fd)
        let bodies = answer.components(separatedBy: "\r\n\r\n").dropFirst().map { $0.prefix { $0 != "H" } }
        XCTAssertEqual(bodies.map(String.init), [expectedSum(Array("abcde".utf8)), expectedSum(Array("xy".utf8)), "local\n"], answer)
    }

    func testAChunkedBodyPastTheLimitIsRefusedWith413() throws {
        let fd = try connect()
        // The handler's limit is 1 GiB; a chunk size of 0x7fffffff says more than that.
        send(fd, "POST /sum HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7fffffff\r\nabc")
        XCTAssertTrue(readAnswer(fd).hasPrefix("HTTP/1.1 413 "))
    }

    func testABodyThatStopsArrivingTimesOutWith408() throws {
        let fd = try connect()
        send(fd, "POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        XCTAssertTrue(readAnswer(fd).hasPrefix("HTTP/1.1 408 "))
    }

    func testALocalAnswerBeforeTheBodyClosesTheConnectionAndWithoutOneKeepsIt() throws {
        let fd = try connect()
        send(fd, "GET /local HTTP/1.1\r\nHost: x\r\n\r\n")
        let first = readAnswer(fd, until: "local\n")
        XCTAssertTrue(first.hasPrefix("HTTP/1.1 404 "), first)
        XCTAssertFalse(first.lowercased().contains("connection: close"), first)
        send(fd, "POST /local HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        let second = readAnswer(fd)
        XCTAssertTrue(second.lowercased().contains("connection: close"), "its body unread, the request's end is unknown: \(second)")
    }

    func testExpectContinueIsAnsweredWhenTheBodyIsFirstRead() throws {
        let fd = try connect()
        send(fd, "POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertEqual(readAnswer(fd, until: "\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n")
        send(fd, "abc")
        XCTAssertTrue(readAnswer(fd, until: "\r\n\r\n").hasSuffix(expectedSum(Array("abc".utf8))))
    }

    func testADetachedSocketLeavesTheServerOpenWithWhatTheClientSentAfterTheHead() throws {
        let fd = try connect()
        send(fd, "GET /detach HTTP/1.1\r\nHost: x\r\n\r\nearly bytes")
        let deadline = monotonicMilliseconds() + 5000
        while dispatcher.detached.withLock({ $0.isEmpty }) && monotonicMilliseconds() < deadline { usleep(10_000) }
        let taken = try XCTUnwrap(dispatcher.detached.withLock { $0.first })
        XCTAssertEqual(String(decoding: taken.1, as: UTF8.self), "early bytes")
        XCTAssertEqual(server.connectionCount, 0, "the server no longer counts a connection it gave away")
        // Still open, and the server's epoll set no longer sees it: the new owner reads what comes.
        send(fd, "later")
        var p = pollfd(fd: taken.0, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&p, 1, 5000), 1)
        var bytes = [UInt8](repeating: 0, count: 16)
        let n = bytes.withUnsafeMutableBytes { recv(taken.0, $0.baseAddress, $0.count, 0) }
        XCTAssertEqual(String(decoding: bytes[0..<max(0, n)], as: UTF8.self), "later")
    }
}
