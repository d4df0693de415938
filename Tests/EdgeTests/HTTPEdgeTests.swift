import Glibc
import SlipwayHTTP
import SlipwayServer
import SlipwaySystem
import XCTest
@testable import Edge

/// The HTTP edge over real loopback sockets, in front of fake apps (`FakeHTTPApp`): routing,
/// headers as the app sees them, framing both ways, the error pages, the keep-alive pool, swaps
/// at request boundaries, pipelining and upgrades.
final class HTTPEdgeTests: XCTestCase {
    private var apps: [FakeHTTPApp] = []
    private var live: LiveUpstream!
    private var server: HTTPServer!

    override func setUpWithError() throws {
        let blue = try FakeHTTPApp(name: "blue")
        apps = [blue]
        live = LiveUpstream(appName: "web")
        live.setUpstream(port: blue.port, deploymentID: nil)
        try start(maxBody: 1000)
    }

    override func tearDown() {
        server?.shutdown()
        apps.forEach { $0.stop() }
    }

    private func start(maxBody: Int, readTimeout: Int = 60_000) throws {
        server?.shutdown()
        var settings = EdgeSettings()
        settings.readTimeoutMilliseconds = readTimeout
        let routes = FakeRoutes(apps: ["web.test": EdgeApp(name: "web", live: live, maxRequestBody: maxBody, accessLog: nil)])
        var options = ServerOptions()
        options.port = 0
        options.bodyTimeoutMilliseconds = 2000
        server = try HTTPServer(options: options, dispatcher: HTTPEdge(routes: routes, dashboard: nil, settings: settings))
        let server = self.server!
        OSThread.detach(name: "test-edge") { server.run() }
    }

    private func client() throws -> EdgeClient { try EdgeClient(port: server.port) }

    private func get(_ path: String, host: String = "web.test", extra: String = "") throws -> ClientResponse {
        let c = try client()
        c.send("GET \(path) HTTP/1.1\r\nHost: \(host)\r\n\(extra)\r\n")
        return try XCTUnwrap(c.read())
    }

    // MARK: routing

    func testRequestsGoToTheAppOfTheirHostAndAnUnknownHostGetsAPageNamingNoApp() throws {
        let routed = try get("/hello", host: "WEB.test:8080")
        XCTAssertEqual(routed.status, 200)
        XCTAssertEqual(routed.header("X-App"), "blue")
        XCTAssertEqual(routed.text, "/hello")

        let unknown = try get("/hello", host: "other.test")
        XCTAssertEqual(unknown.status, 404)
        XCTAssertTrue(unknown.header("Content-Type")?.hasPrefix("text/html") == true)
        XCTAssertFalse(unknown.text.contains("web"), unknown.text)
        XCTAssertNotNil(unknown.header("X-Request-Id"))
    }

    // MARK: headers

    func testTheAppSeesForwardingHeadersAndNoHopByHopOnesAndTheClientNoneOfTheApps() throws {
        let response = try get("/echo", extra: "Connection: keep-alive, X-Private\r\nX-Private: 1\r\nKeep-Alive: 300\r\n"
                               + "Proxy-Connection: keep-alive\r\nTE: trailers\r\nX-Forwarded-For: 10.0.0.9\r\n"
                               + "X-Forwarded-Proto: https\r\nX-Request-Id: abc-123\r\nX-Kept: yes\r\n")
        XCTAssertEqual(response.status, 200)
        let seen = apps[0].lastHead
        XCTAssertTrue(seen.hasPrefix("GET /echo HTTP/1.1\r\nHost: web.test\r\n"), seen)
        for header in ["X-Forwarded-For: 10.0.0.9, 127.0.0.1", "X-Forwarded-Proto: http", "X-Forwarded-Host: web.test",
                       "X-Request-Id: abc-123", "X-Kept: yes"] {
            XCTAssertTrue(seen.contains("\r\n\(header)\r\n"), "\(header) in\n\(seen)")
        }
        for name in ["Connection", "X-Private", "Keep-Alive", "Proxy-Connection", "TE"] {
            XCTAssertFalse(seen.lowercased().contains("\r\n\(name.lowercased()):"), "\(name) in\n\(seen)")
        }
        for name in ["Keep-Alive", "X-Secret", "Proxy-Connection", "Trailer", "Connection"] {
            XCTAssertNil(response.header(name), "\(name) reached the client")
        }
        XCTAssertEqual(response.header("X-Request-Id"), "abc-123")
    }

    func testAnInsaneRequestIdIsReplacedByARandomOne() throws {
        let response = try get("/echo", extra: "X-Request-Id: <script>\r\n")
        let id = try XCTUnwrap(response.header("X-Request-Id"))
        XCTAssertEqual(id.count, 32)
        XCTAssertTrue(id.allSatisfy { $0.isHexDigit })
        XCTAssertTrue(apps[0].lastHead.contains("X-Request-Id: \(id)\r\n"))
        XCTAssertNotEqual(try get("/echo").header("X-Request-Id"), id)
    }

    // MARK: framing

    func testAChunkedRequestReachesTheAppChunkedAndAChunkedAnswerComesBackReframed() throws {
        let c = try client()
        c.send("POST /echo HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        let echoed = try XCTUnwrap(c.read())
        XCTAssertTrue(echoed.text.hasSuffix("--\nhello world"), echoed.text)
        XCTAssertTrue(apps[0].lastHead.contains("Transfer-Encoding: chunked\r\n"))

        c.send("GET /chunked HTTP/1.1\r\nHost: web.test\r\n\r\n")
        let chunked = try XCTUnwrap(c.read())
        XCTAssertTrue(chunked.chunked)
        XCTAssertEqual(chunked.text, "hello chunked world")
        XCTAssertNil(chunked.header("X-T"), "trailers are dropped")
    }

    func testAnAnswerEndedByTheCloseIsChunkedForHTTP11AndClosedForHTTP10() throws {
        let c = try client()
        c.send("GET /close HTTP/1.1\r\nHost: web.test\r\n\r\n")
        let chunked = try XCTUnwrap(c.read())
        XCTAssertTrue(chunked.chunked)
        XCTAssertEqual(chunked.text, "until the close")
        c.send("GET /hello HTTP/1.1\r\nHost: web.test\r\n\r\n")
        XCTAssertEqual(c.read()?.text, "/hello", "the client's connection stays open")

        let old = try client()
        old.send("GET /close HTTP/1.0\r\nHost: web.test\r\nConnection: keep-alive\r\n\r\n")
        let closed = try XCTUnwrap(old.read())
        XCTAssertFalse(closed.chunked)
        XCTAssertEqual(closed.header("Connection"), "close")
        XCTAssertEqual(closed.text, "until the close")
    }

    func testInterimAnswersAreSkippedAndHeadGetsNoBody() throws {
        XCTAssertEqual(try get("/hints").text, "ok")
        let c = try client()
        c.send("HEAD /echo HTTP/1.1\r\nHost: web.test\r\n\r\nGET /hello HTTP/1.1\r\nHost: web.test\r\n\r\n")
        let head = try XCTUnwrap(c.read(method: "HEAD"))
        XCTAssertEqual(head.status, 200)
        XCTAssertNotNil(head.header("Content-Length"))
        XCTAssertEqual(c.read()?.text, "/hello", "no body bytes came between the two answers")
    }

    // MARK: errors

    func testAnAppWithoutAContainerGets503NamingItAndWhy() throws {
        live.setUnavailable(.stopped)
        let response = try get("/")
        XCTAssertEqual(response.status, 503)
        XCTAssertTrue(response.text.contains("web is stopped"), response.text)
        XCTAssertTrue(response.text.contains("Start it"), response.text)
    }

    func testAnAppThatRefusesOrDropsGets502AndOneTooSlow504() throws {
        let closed = try Socket.listen(host: "127.0.0.1", port: 0)
        let refusing = Socket.localPort(closed)
        Glibc.close(closed)
        live.setUpstream(port: refusing, deploymentID: nil)
        let refused = try get("/")
        XCTAssertEqual(refused.status, 502)
        XCTAssertTrue(refused.text.contains("web"), refused.text)

        live.setUpstream(port: apps[0].port, deploymentID: nil)
        XCTAssertEqual(try get("/drop").status, 502)

        try start(maxBody: 1000, readTimeout: 300)
        let slow = try get("/slow")
        XCTAssertEqual(slow.status, 504)
        XCTAssertTrue(slow.text.contains("web did not answer within"), slow.text)
        // Released once the answer is written, which the client may read a moment before.
        let generation = live.current!.generation
        let deadline = monotonicMilliseconds() + 2000
        while live.inFlight(to: generation) > 0 && monotonicMilliseconds() < deadline { usleep(1000) }
        XCTAssertEqual(live.inFlight(to: generation), 0, "failed requests are released too")
    }

    func testABodyOverTheAppsLimitGets413ByLengthOrAsItGrows() throws {
        let declared = try client()
        declared.send("POST /echo HTTP/1.1\r\nHost: web.test\r\nContent-Length: 1001\r\n\r\n")
        XCTAssertEqual(declared.read()?.status, 413)
        XCTAssertEqual(apps[0].heads.withLock { $0.count }, 0, "refused before the app saw it")

        let growing = try client()
        growing.send("POST /echo HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + String(repeating: "x", count: 1000)
                     + "\r\n1\r\ny\r\n0\r\n\r\n")
        let response = try XCTUnwrap(growing.read())
        XCTAssertEqual(response.status, 413)
        XCTAssertTrue(response.text.contains("1000 bytes"), response.text)
    }

    // MARK: keep-alive, swaps, pipelining

    func testConnectionsToTheAppAreKeptAndReused() throws {
        for _ in 0..<5 { XCTAssertEqual(try get("/hello").status, 200) }
        XCTAssertEqual(apps[0].accepted.load(ordering: .relaxed), 1, "one connection to the app served every request")
        XCTAssertEqual(live.idleConnectionCount, 1)
    }

    func testAKeptAliveClientsNextRequestAfterASwapGoesToTheNewContainer() throws {
        let green = try FakeHTTPApp(name: "green")
        apps.append(green)
        let c = try client()
        c.send("GET /a HTTP/1.1\r\nHost: web.test\r\n\r\n")
        XCTAssertEqual(c.read()?.header("X-App"), "blue")
        let old = try XCTUnwrap(live.setUpstream(port: green.port, deploymentID: nil))
        XCTAssertEqual(live.idleConnectionCount, 0, "the old container's idle connections close at the switch")
        c.send("GET /b HTTP/1.1\r\nHost: web.test\r\n\r\n")
        XCTAssertEqual(c.read()?.header("X-App"), "green")
        XCTAssertEqual(live.inFlight(to: old.generation), 0)
    }

    func testPipelinedRequestsAreAnsweredInOrderEachByTheContainerLiveWhenItIsDispatched() throws {
        let c = try client()
        var batch = ""
        for i in 0..<3 { batch += "GET /p\(i) HTTP/1.1\r\nHost: web.test\r\n\r\n" }
        batch += "POST /echo HTTP/1.1\r\nHost: web.test\r\nContent-Length: 4\r\n\r\nbody"
        c.send(batch)
        for i in 0..<3 { XCTAssertEqual(c.read()?.text, "/p\(i)") }
        XCTAssertTrue(c.read()?.text.hasSuffix("--\nbody") == true)

        let green = try FakeHTTPApp(name: "green")
        apps.append(green)
        c.send("GET /slow HTTP/1.1\r\nHost: web.test\r\n\r\nGET /after HTTP/1.1\r\nHost: web.test\r\n\r\n")
        usleep(300_000)
        live.setUpstream(port: green.port, deploymentID: nil)
        XCTAssertEqual(c.read()?.header("X-App"), "blue", "in flight at the swap: finishes on the old container")
        XCTAssertEqual(c.read()?.header("X-App"), "green", "dispatched after the swap: the new one")
    }

    // MARK: upgrades

    func testAWebSocketUpgradeRelaysBytesBothWaysAndCountsUntilItCloses() throws {
        let generation = live.current!.generation
        let c = try client()
        c.send("GET /ws HTTP/1.1\r\nHost: web.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n")
        let switched = try XCTUnwrap(c.read())
        XCTAssertEqual(switched.status, 101)
        XCTAssertEqual(switched.header("Upgrade"), "websocket")
        XCTAssertEqual(switched.header("Connection"), "Upgrade")
        XCTAssertTrue(apps[0].lastHead.contains("Connection: Upgrade\r\n") && apps[0].lastHead.contains("Upgrade: websocket\r\n"))
        XCTAssertEqual(c.readRaw(count: 2), Array("hi".utf8), "what the app sent after its 101")
        c.send("ping")
        XCTAssertEqual(c.readRaw(count: 4), Array("ping".utf8))
        XCTAssertEqual(live.inFlight(to: generation), 1)
        shutdown(c.fd, Int32(SHUT_WR))
        XCTAssertTrue(TestBytes.eventually(within: 5) { live.inFlight(to: generation) == 0 })
    }
}
