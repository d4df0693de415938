import Glibc
import SlipwayHTTP
import SlipwayServer
import SlipwaySystem
import XCTest
@testable import Edge

/// What the HTTP edge records in an app's access log: one record per finished request, the app's
/// answers and the edge's own (413, 502, 503), with the bytes each way, the container's
/// deployment and the request's id; a WebSocket once, when it closes.
final class EdgeAccessLogTests: XCTestCase {
    private var app: FakeHTTPApp!
    private var live: LiveUpstream!
    private var log: AppAccessLog!
    private var server: HTTPServer!

    override func setUpWithError() throws {
        app = try FakeHTTPApp(name: "blue")
        live = LiveUpstream(appName: "web")
        live.setUpstream(port: app.port, deploymentID: 42)
        log = AppAccessLog(appID: 1, name: "web", ring: AccessRing(capacity: 10), file: nil)
        let routes = FakeRoutes(apps: ["web.test": EdgeApp(name: "web", live: live, maxRequestBody: 1000, accessLog: log)])
        var options = ServerOptions()
        options.port = 0
        server = try HTTPServer(options: options, dispatcher: HTTPEdge(routes: routes, dashboard: nil))
        let server = self.server!
        OSThread.detach(name: "test-edge") { server.run() }
    }

    override func tearDown() {
        server?.shutdown()
        app?.stop()
    }

    /// Sends `request` on a connection of its own and reads until the edge closes it: every byte
    /// the edge sent for it.
    private func exchange(_ request: String) throws -> [UInt8] {
        let fd = try TestBytes.connect(port: server.port)
        defer { close(fd) }
        XCTAssertTrue(TestBytes.send(fd, Array(request.utf8)))
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return received }
            received += buffer[0..<n]
        }
    }

    /// The records, oldest first, once `count` are there: a request is recorded just after its
    /// last byte goes out, so the client may see its answer a moment before.
    private func records(_ count: Int) -> [AccessRecord] {
        XCTAssertTrue(TestBytes.eventually(within: 5) { self.log.ring.count >= count }, "\(log.ring.count) records, not \(count)")
        return log.ring.snapshot().reversed()
    }

    func testEachRequestIsRecordedOnceWithItsStatusBytesDeploymentAndId() throws {
        let ok = try exchange("GET /hello?secret=1 HTTP/1.1\r\nHost: web.test\r\nX-Request-Id: req-1\r\nConnection: close\r\n\r\n")
        let posted = try exchange("POST /echo HTTP/1.1\r\nHost: web.test\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody")
        let tooLarge = try exchange("POST /echo HTTP/1.1\r\nHost: web.test\r\nContent-Length: 1001\r\n\r\n")
        let dropped = try exchange("GET /drop HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n")
        _ = try exchange("GET / HTTP/1.1\r\nHost: nobody.test\r\nConnection: close\r\n\r\n")

        let all = records(4)
        XCTAssertEqual(all.count, 4, "one record per request to the app, none for an unknown host")
        let (first, second, third, fourth) = (all[0], all[1], all[2], all[3])

        XCTAssertEqual(first.method, "GET")
        XCTAssertEqual(first.path, "/hello", "the query is not kept")
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.bytesReceived, 0)
        XCTAssertEqual(first.bytesSent, ok.count, "head and body, as the client received them")
        XCTAssertEqual(first.deploymentID, 42)
        XCTAssertEqual(first.requestID, "req-1")
        XCTAssertFalse(first.upstreamFailed)
        XCTAssertGreaterThan(first.durationMicroseconds, 0)

        XCTAssertEqual(second.status, 200)
        XCTAssertEqual(second.bytesReceived, 4)
        XCTAssertEqual(second.bytesSent, posted.count)

        XCTAssertEqual(third.status, 413)
        XCTAssertEqual(third.bytesReceived, 0, "refused by its length, before a byte of it was read")
        XCTAssertEqual(third.bytesSent, tooLarge.count)
        XCTAssertNil(third.deploymentID, "no container was chosen")
        XCTAssertFalse(third.upstreamFailed, "the request's fault, not the app's")

        XCTAssertEqual(fourth.status, 502)
        XCTAssertEqual(fourth.bytesSent, dropped.count)
        XCTAssertEqual(fourth.deploymentID, 42)
        XCTAssertTrue(fourth.upstreamFailed)
        XCTAssertEqual(fourth.requestID.count, 32, "a generated id")

        let counters = log.counters.snapshot()
        XCTAssertEqual(counters.requests[.success], 2)
        XCTAssertEqual(counters.requests[.clientError], 1)
        XCTAssertEqual(counters.requests[.serverError], 1)
        XCTAssertEqual(counters.totalRequests, 4)
        XCTAssertEqual(counters.bytesIn, 4)
        XCTAssertEqual(counters.bytesOut, ok.count + posted.count + tooLarge.count + dropped.count)
        XCTAssertEqual(counters.upstreamErrors, 1)
    }

    func testAnAppWithoutAContainerIsRecordedAs503WithNoDeploymentAndNoUpstreamError() throws {
        live.setUnavailable(.stopped)
        _ = try exchange("GET / HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n")
        let record = try XCTUnwrap(records(1).first)
        XCTAssertEqual(record.status, 503)
        XCTAssertNil(record.deploymentID)
        XCTAssertFalse(record.upstreamFailed, "nothing was asked of a container")
    }

    func testKeptAliveRequestsCountOnlyTheirOwnBytes() throws {
        let c = try EdgeClient(port: server.port)
        c.send("GET /a HTTP/1.1\r\nHost: web.test\r\n\r\n")
        XCTAssertEqual(c.read()?.text, "/a")
        c.send("GET /abc HTTP/1.1\r\nHost: web.test\r\n\r\n")
        XCTAssertEqual(c.read()?.text, "/abc")
        let all = records(2)
        XCTAssertEqual(all[1].bytesSent - all[0].bytesSent, 2, "the same head, a body two bytes longer")
    }

    func testAWebSocketIsRecordedOnceWhenItClosesWithTheBytesItRelayed() throws {
        let c = try EdgeClient(port: server.port)
        c.send("GET /ws HTTP/1.1\r\nHost: web.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        XCTAssertEqual(c.read()?.status, 101)
        XCTAssertEqual(c.readRaw(count: 2), Array("hi".utf8))
        c.send("ping!")
        XCTAssertEqual(c.readRaw(count: 5), Array("ping!".utf8))
        usleep(100_000)
        XCTAssertEqual(log.ring.count, 0, "not recorded while it is open")
        shutdown(c.fd, Int32(SHUT_WR))
        let record = try XCTUnwrap(records(1).first)
        XCTAssertEqual(record.status, 101)
        XCTAssertEqual(record.bytesReceived, 5)
        XCTAssertGreaterThan(record.bytesSent, 2 + 5, "the 101's head, the app's greeting and the echo")
        XCTAssertEqual(record.deploymentID, 42)
        XCTAssertGreaterThanOrEqual(record.durationMicroseconds, 100_000, "the connection's whole life")
    }
}
