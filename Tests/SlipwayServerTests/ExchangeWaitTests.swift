import Glibc
import SlipwayHTTP
import SlipwaySystem
import Synchronization
import XCTest
@testable import SlipwayServer

/// `Exchange.waitForReadable`, as the edge uses it to wait for an app's answer: the exchange
/// gives its worker back, and a worker resumes it when the descriptor is readable or the wait
/// times out. Over real loopback connections, with pipes standing in for the apps.
final class ExchangeWaitTests: XCTestCase {
    /// `/wait/<key>` waits on a pipe until two bytes have come down it (one wait each), then
    /// answers with them; `?timeout=<ms>` bounds each wait. `/local` answers at once.
    private final class WaitingDispatcher: RequestDispatcher {
        /// The write ends of the waiting requests' pipes, by key.
        let pipes = Mutex<[String: Int32]>([:])
        let continuations = Atomic<Int>(0)

        func dispose(of head: RequestHead, remoteAddress: String) -> Disposition {
            .takeOver { [self] exchange in
                guard exchange.head.path.hasPrefix("/wait/") else { return exchange.respond(.text("local\n")) }
                let key = String(exchange.head.path.dropFirst("/wait/".count))
                let timeout = exchange.head.target.split(separator: "=").last.flatMap { Int($0) } ?? 10_000
                var ends: [Int32] = [0, 0]
                guard pipe(&ends) == 0 else { return exchange.respond(.text("no pipe", status: 500)) }
                _ = fcntl(ends[0], F_SETFL, O_NONBLOCK)
                pipes.withLock { $0[key] = ends[1] }
                return wait(exchange, on: ends[0], timeout: timeout, received: [])
            }
        }

        private func wait(_ exchange: Exchange, on fd: Int32, timeout: Int, received: [UInt8]) -> Exchange.Outcome {
            exchange.waitForReadable(fd, timeoutMilliseconds: timeout) { [self] wake in
                continuations.wrappingAdd(1, ordering: .relaxed)
                guard wake == .readable else {
                    close(fd)
                    return exchange.respond(.text("timed out after \(received.count) bytes\n", status: 504))
                }
                var byte: UInt8 = 0
                var got = received
                if Glibc.read(fd, &byte, 1) == 1 { got.append(byte) }
                guard got.count == 2 else { return wait(exchange, on: fd, timeout: timeout, received: got) }
                close(fd)
                return exchange.respond(.text("woke \(String(decoding: got, as: UTF8.self))\n"))
            }
        }

        func errorResponse(_ error: any HTTPResponseError, path: String) -> HTTPResponse { .error(error, format: .text) }

        func respond(to request: HTTPRequest, deferred make: DeferredResponse.Maker) -> HTTPResponse {
            (try? make()) ?? .text("failed", status: 500)
        }
    }

    private var server: HTTPServer!
    private var dispatcher: WaitingDispatcher!
    private var clients: [Int32] = []

    override func setUpWithError() throws {
        dispatcher = WaitingDispatcher()
        var options = ServerOptions()
        options.port = 0
        options.minimumWorkers = 2
        server = try HTTPServer(options: options, dispatcher: dispatcher)
        let server = self.server!
        OSThread.detach(name: "test-accept") { server.run() }
    }

    override func tearDown() {
        clients.forEach { close($0) }
        dispatcher.pipes.withLock { $0.values.forEach { close($0) } }
        server.shutdown()
    }

    private func connect() throws -> Int32 {
        let fd = try Socket.connect(ipv4: "127.0.0.1", port: server.port, timeoutMilliseconds: 2000)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        clients.append(fd)
        return fd
    }

    private func send(_ fd: Int32, _ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Writes one byte down the pipe of the request waiting under `key`.
    private func poke(_ key: String, _ byte: Character) {
        let fd = dispatcher.pipes.withLock { $0[key] }
        var value = byte.asciiValue!
        XCTAssertEqual(fd.map { write($0, &value, 1) }, 1, "no request waits under \(key)")
    }

    /// Polls until `condition` holds, for at most 5 s.
    private func eventually(_ condition: () -> Bool) -> Bool {
        let deadline = monotonicMilliseconds() + 5000
        while !condition() {
            if monotonicMilliseconds() > deadline { return false }
            usleep(5_000)
        }
        return true
    }

    /// Bytes the server has sent so far, without waiting for more.
    private func pending(_ fd: Int32) -> Int {
        var count: Int32 = 0
        _ = ioctl(fd, UInt(FIONREAD), &count)
        return Int(count)
    }

    func testWaitingExchangesHoldNoWorkerAndEachWakesToItsOwnAnswer() throws {
        let count = 40
        let fds = try (0..<count).map { index -> Int32 in
            let fd = try connect()
            send(fd, "GET /wait/\(index) HTTP/1.1\r\nHost: x\r\n\r\n")
            return fd
        }
        XCTAssertTrue(eventually { dispatcher.pipes.withLock { $0.count } == count })
        // Forty requests wait at once, and still only the two workers the pool keeps exist: a
        // handler that blocked instead would have made the monitor start a worker for each.
        XCTAssertEqual(server.workerCount, 2)
        // Woken in the reverse order, each in two steps (a second wait after the first byte).
        for index in (0..<count).reversed() { poke("\(index)", "a") }
        XCTAssertTrue(eventually { dispatcher.continuations.load(ordering: .relaxed) == count })
        XCTAssertEqual(fds.map(pending), Array(repeating: 0, count: count), "one byte of two answers nothing yet")
        for index in (0..<count).reversed() { poke("\(index)", "b") }
        for fd in fds {
            XCTAssertTrue(readAnswer(fd, until: "woke ab\n").hasPrefix("HTTP/1.1 200 "))
        }
        XCTAssertEqual(dispatcher.continuations.load(ordering: .relaxed), 2 * count)
        XCTAssertEqual(server.workerCount, 2)
    }

    func testAPipelinedRequestBehindAWaitingOneIsAnsweredAfterIt() throws {
        let fd = try connect()
        send(fd, "GET /wait/first HTTP/1.1\r\nHost: x\r\n\r\nGET /local HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        XCTAssertTrue(eventually { dispatcher.pipes.withLock { $0["first"] != nil } })
        XCTAssertEqual(pending(fd), 0, "the second request waits for the first")
        poke("first", "x")
        poke("first", "y")
        let answer = readAnswer(fd)
        let woke = try XCTUnwrap(answer.range(of: "woke xy\n"), answer)
        let local = try XCTUnwrap(answer.range(of: "local\n"), answer)
        XCTAssertLessThan(woke.lowerBound, local.lowerBound, "answers in the order of the requests")
    }

    func testAWaitThatTimesOutRunsItsContinuationAndTheConnectionCarriesOn() throws {
        let fd = try connect()
        send(fd, "GET /wait/slow?timeout=150 HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(eventually { dispatcher.pipes.withLock { $0["slow"] != nil } })
        poke("slow", "x")
        let answer = readAnswer(fd, until: "bytes\n")
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 504 "), answer)
        XCTAssertTrue(answer.hasSuffix("timed out after 1 bytes\n"), "the timeout of the second wait: \(answer)")
        send(fd, "GET /local HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        XCTAssertTrue(readAnswer(fd).hasSuffix("local\n"))
    }
}
