import Dispatch
import Glibc
import Pipeline
import SlipwayServer
import SlipwaySystem
import XCTest
@testable import HookServer

/// The HTTP server's worker pool, over real loopback connections.
final class ConnectionPoolTests: XCTestCase {
    private var servers: [HTTPServer] = []
    private var clients: [Int32] = []

    override func tearDown() {
        clients.forEach { close($0) }
        servers.forEach { $0.shutdown() }
    }

    private func serve(_ options: ServerOptions, _ routes: (inout Router) -> Void) throws -> HTTPServer {
        var router = Router()
        routes(&router)
        var options = options
        options.port = 0
        let server = try HTTPServer(options: options, dispatcher: Responder(router: router, defaultBodyLimit: options.limits.defaultBodyLimit))
        servers.append(server)
        OSThread.detach(name: "test-accept") { server.run() }
        return server
    }

    private func connect(_ server: HTTPServer) throws -> Int32 {
        let fd = try Socket.connect(ipv4: "127.0.0.1", port: server.port, timeoutMilliseconds: 2000)
        clients.append(fd)
        return fd
    }

    private func send(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        XCTAssertEqual(bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }, bytes.count)
    }

    /// Everything the server sends until it closes, or until `deadline` seconds pass.
    private func readAll(_ fd: Int32, within seconds: Double, until marker: String? = nil) -> String {
        var received = [UInt8]()
        let deadline = monotonicMilliseconds() + Int(seconds * 1000)
        var chunk = [UInt8](repeating: 0, count: 4096)
        while monotonicMilliseconds() < deadline {
            if let marker, String(decoding: received, as: UTF8.self).contains(marker) { break }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 50) > 0 else { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += chunk[0..<n]
        }
        return String(decoding: received, as: UTF8.self)
    }

    private func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = monotonicMilliseconds() + Int(seconds * 1000)
        while monotonicMilliseconds() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    func testABlockedHandlerDoesNotStarveTheOtherConnections() throws {
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        var options = ServerOptions()
        options.minimumWorkers = 1
        options.workerRetireMilliseconds = 200
        let server = try serve(options) { r in
            r.get("/block") { _ in
                entered.signal()
                _ = release.wait(timeout: .now() + 30)
                return .text("unblocked")
            }
            r.get("/fast") { _ in .text("fast") }
        }
        XCTAssertEqual(server.workerCount, 1)

        let blocked = try connect(server)
        send(blocked, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(entered.wait(timeout: .now() + 10), .success)

        // The only worker is held; the monitor sees it busy and starts another for this client.
        let other = try connect(server)
        send(other, "GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let answer = readAll(other, within: 10)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200 "), answer)
        XCTAssertTrue(answer.hasSuffix("fast"), answer)
        XCTAssertGreaterThanOrEqual(server.workerCount, 2)

        release.signal()
        XCTAssertTrue(readAll(blocked, within: 10, until: "unblocked").hasSuffix("unblocked"))
        // With nothing to do, the extra worker retires.
        XCTAssertTrue(waitUntil(10) { server.workerCount == 1 }, "workers: \(server.workerCount)")
    }

    func testParkedConnectionsHoldNoWorkerAndExpireOnTime() throws {
        var options = ServerOptions()
        options.minimumWorkers = 2
        options.headerTimeoutMilliseconds = 300
        let server = try serve(options) { r in r.get("/fast") { _ in .text("fast") } }

        var idle: [Int32] = []
        var slow: [Int32] = []
        for i in 0..<100 {
            let fd = try connect(server)
            if i % 2 == 0 {
                idle.append(fd)
            } else {
                send(fd, "GET /fast HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                slow.append(fd)
            }
        }
        XCTAssertTrue(waitUntil(5) { server.connectionCount == 100 }, "open: \(server.connectionCount)")
        let fd = try connect(server)
        send(fd, "GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        XCTAssertTrue(readAll(fd, within: 5).hasSuffix("fast"))
        XCTAssertEqual(server.workerCount, 2, "a hundred waiting clients must not take a worker each")

        // Past the header timeout: a started head gets a 408, a silent client a quiet close.
        XCTAssertTrue(readAll(slow[0], within: 5).hasPrefix("HTTP/1.1 408 "))
        XCTAssertEqual(readAll(idle[0], within: 5), "")
        XCTAssertTrue(waitUntil(5) { server.connectionCount == 0 }, "open: \(server.connectionCount)")
    }

    func testPipelinedRequestsAnsweredInOrderByWhicheverWorker() throws {
        var options = ServerOptions()
        options.minimumWorkers = 4
        let server = try serve(options) { r in r.get("/echo/{n}") { req in .text(req.parameter("n")) } }
        let fd = try connect(server)
        let requests = (0..<50).map { "GET /echo/\($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined()
        send(fd, requests + "GET /echo/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let answer = readAll(fd, within: 10)
        let bodies = answer.components(separatedBy: "\r\n\r\n").dropFirst().map { $0.prefix { $0 != "H" } }
        XCTAssertEqual(bodies.map(String.init), (0..<50).map(String.init) + ["last"])
    }
}
