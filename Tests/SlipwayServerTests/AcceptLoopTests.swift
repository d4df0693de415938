import Dispatch
import Glibc
import SlipwayHTTP
import SlipwaySystem
import XCTest
@testable import SlipwayServer

/// Accepting: the pool's workers accept from the listener, so `shutdown` must end `run` and stop
/// them accepting; and they set no option per connection, so the listener's TCP_NODELAY must
/// reach every connection.
final class AcceptLoopTests: XCTestCase {
    private struct Answering: RequestDispatcher {
        func dispose(of head: RequestHead, remoteAddress: String) -> Disposition {
            .buffer(bodyLimit: 0) { _ in .text("ok\n") }
        }
        func errorResponse(_ error: any HTTPResponseError, path: String) -> HTTPResponse { .error(error, format: .text) }
        func respond(to request: HTTPRequest, deferred make: DeferredResponse.Maker) -> HTTPResponse {
            (try? make()) ?? .text("failed", status: 500)
        }
    }

    func testShutdownEndsRunAndRefusesNewConnections() throws {
        var options = ServerOptions()
        options.port = 0
        let server = try HTTPServer(options: options, dispatcher: Answering())
        let port = server.port
        let stopped = DispatchSemaphore(value: 0)
        OSThread.detach(name: "test-accept") {
            server.run()
            stopped.signal()
        }
        usleep(100_000)
        server.shutdown()
        XCTAssertEqual(stopped.wait(timeout: .now() + 2), .success, "run() returned")
        XCTAssertThrowsError(try Socket.connect(ipv4: "127.0.0.1", port: port, timeoutMilliseconds: 1000))
        server.shutdown()  // again, after run closed the listener: touches no descriptor
    }

    func testAcceptedConnectionsHaveNoDelayFromTheListener() throws {
        var options = ServerOptions()
        options.port = 0
        let server = try HTTPServer(options: options, dispatcher: Answering())
        defer { server.shutdown() }
        var flag: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        XCTAssertEqual(getsockopt(server.listenFD, Int32(IPPROTO_TCP), TCP_NODELAY, &flag, &length), 0)
        XCTAssertNotEqual(flag, 0, "set on the listener, which Linux copies to each accepted socket")
    }

    /// Past `maxConnections`, a new client is told so and closed rather than left in the backlog.
    func testAClientPastTheConnectionLimitGetsA503AndTheOthersAreServed() throws {
        var options = ServerOptions()
        options.port = 0
        options.maxConnections = 2
        let server = try HTTPServer(options: options, dispatcher: Answering())
        OSThread.detach(name: "test-accept") { server.run() }
        defer { server.shutdown() }
        let held = try (0..<2).map { _ in try Socket.connect(ipv4: "127.0.0.1", port: server.port, timeoutMilliseconds: 2000) }
        defer { held.forEach { close($0) } }
        let deadline = monotonicMilliseconds() + 5000
        while server.connectionCount < 2 && monotonicMilliseconds() < deadline { usleep(5_000) }
        XCTAssertEqual(server.connectionCount, 2)

        let extra = try Socket.connect(ipv4: "127.0.0.1", port: server.port, timeoutMilliseconds: 2000)
        defer { close(extra) }
        XCTAssertTrue(readAnswer(extra).hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        // The two admitted are served as usual.
        _ = Array("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8).withUnsafeBytes { send(held[0], $0.baseAddress, $0.count, 0) }
        XCTAssertTrue(readAnswer(held[0]).hasSuffix("ok\n"))
    }
}
