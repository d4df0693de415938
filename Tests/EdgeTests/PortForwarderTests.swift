import Foundation
import Synchronization
import XCTest
@testable import Edge
import SlipwaySystem

/// client ⇄ PortForwarder (relay loops) ⇄ TestUpstream, over real loopback TCP.
final class PortForwarderTests: XCTestCase {
    private var upstream: TestUpstream!
    private var forwarder: PortForwarder!
    private var generation = 0

    override func setUpWithError() throws {
        upstream = try TestUpstream()
        forwarder = try PortForwarder(host: "127.0.0.1", port: 0, upstream: LiveUpstream(appName: "test-app"))
        forwarder.live.setUpstream(port: upstream.port, deploymentID: nil)
        generation = try XCTUnwrap(forwarder.live.current).generation
    }

    override func tearDown() {
        forwarder.close()
        upstream.stop()
    }

    private var counters: RelayPool.Counters {
        get throws { try RelayPool.shared().counters }
    }

    /// One ECHO exchange on a new connection: the reply, read to the end of the stream.
    private func echo(_ message: String) throws -> String {
        try Self.echo(message, port: forwarder.port)
    }

    private static func echo(_ message: String, port: Int) throws -> String {
        let fd = try TestBytes.connect(port: port)
        defer { close(fd) }
        guard TestBytes.send(fd, Array("ECHO\n\(message)".utf8)) else { return "(send failed)" }
        shutdown(fd, Int32(SHUT_WR))
        return String(decoding: TestBytes.readToEnd(fd), as: UTF8.self)
    }

    private func assertConnectionsDrain(to generation: Int, file: StaticString = #filePath, line: UInt = #line) {
        let drained = TestBytes.eventually(within: 5) { forwarder.live.inFlight(to: generation) == 0 }
        XCTAssertTrue(drained, "open connections to generation \(generation): \(forwarder.live.inFlight(to: generation))", file: file, line: line)
    }

    func testManyConcurrentShortExchangesAllArriveWhole() throws {
        let threads = 16, perThread = 25
        let wrong = Mutex<[String]>([])
        let group = DispatchGroup()
        let port = forwarder.port
        for t in 0..<threads {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                for i in 0..<perThread {
                    let message = "message \(t)-\(i) " + String(repeating: "x", count: (t * 7 + i * 13) % 500)
                    let reply = (try? Self.echo(message, port: port)) ?? "(connect failed)"
                    if reply != message { wrong.withLock { $0.append("\(t)-\(i): \(reply.prefix(40))") } }
                }
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(wrong.withLock { $0 }, [], "every reply equals its request")
        assertConnectionsDrain(to: generation)
    }

    func testOpenConnectionsCountsExactlyTheRelayedOnes() throws {
        var clients: [Int32] = []
        for i in 0..<10 {
            let fd = try TestBytes.connect(port: forwarder.port)
            clients.append(fd)
            // One byte back means the connection is relayed (so counted) end to end.
            XCTAssertTrue(TestBytes.send(fd, Array("ECHO\n\(i % 10)".utf8)))
            XCTAssertEqual(TestBytes.read(fd, count: 1), Array("\(i % 10)".utf8))
        }
        XCTAssertEqual(forwarder.live.inFlight(to: generation), 10)
        clients.prefix(4).forEach { close($0) }
        XCTAssertTrue(TestBytes.eventually(within: 5) { forwarder.live.inFlight(to: generation) == 6 },
                      "closing four clients leaves six: \(forwarder.live.inFlight(to: generation))")
        clients.dropFirst(4).forEach { close($0) }
        assertConnectionsDrain(to: generation)
    }

    func testKeepAliveExchangesStayOnTheLoops() throws {
        let handoffs = try counters.handoffs.load(ordering: .relaxed)
        let wrong = Mutex<[String]>([])
        let group = DispatchGroup()
        let port = forwarder.port
        for c in 0..<4 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                guard let fd = try? TestBytes.connect(port: port) else {
                    wrong.withLock { $0.append("\(c): no connection") }
                    return
                }
                defer { close(fd) }
                _ = TestBytes.send(fd, Array("ECHO\n".utf8))
                for round in 0..<300 {
                    let request = Array(TestBytes.pattern(1 + (round * 37 + c) % 3000).reversed())
                    guard TestBytes.send(fd, request), TestBytes.read(fd, count: request.count) == request else {
                        wrong.withLock { $0.append("\(c): round \(round)") }
                        return
                    }
                }
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(wrong.withLock { $0 }, [], "every response equals its request")
        XCTAssertEqual(try counters.handoffs.load(ordering: .relaxed), handoffs, "short messages never leave the relay loops")
        assertConnectionsDrain(to: generation)
    }

    func testHalfCloseReachesTheUpstreamAndItsReplyStillArrives() throws {
        let client = try TestClient(port: forwarder.port)
        let fd = client.fd
        XCTAssertTrue(TestBytes.send(fd, Array("SINK\n".utf8) + TestBytes.pattern(1000)))
        shutdown(fd, Int32(SHUT_WR))
        // SINK answers only after it has read the end of the stream, so the half-close went through.
        XCTAssertEqual(String(decoding: TestBytes.readToEnd(fd), as: UTF8.self), "received 1000")
        client.close()
        assertConnectionsDrain(to: generation)
    }

    func testASlowReaderKeepsItsPendingBytesAndGetsThemAllWithoutHoldingUpOthers() throws {
        let stalls = try counters.stalls.load(ordering: .relaxed)
        let client = try TestClient(port: forwarder.port)
        let fd = client.fd
        // A small receive buffer that the client does not read: the relay's sends fill up soon.
        var small: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        // Paced small chunks, so the relay reads them one at a time and stays on its loop.
        let total = 8 * 1024 * 1024
        XCTAssertTrue(TestBytes.send(fd, Array("STREAM \(total) 2048 100\n".utf8)))
        XCTAssertTrue(TestBytes.eventually(within: 20) { (try? counters.stalls.load(ordering: .relaxed)) ?? 0 > stalls },
                      "the relay found the reader's side full and kept the bytes pending")
        XCTAssertEqual(try echo("meanwhile"), "meanwhile", "a stalled connection holds up no other")
        // Reading on with the tiny window would crawl (the sender waits out its persist timer).
        var large: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &large, socklen_t(MemoryLayout<Int32>.size))
        let got = TestBytes.readToEnd(fd)
        XCTAssertEqual(got.count, total)
        XCTAssertTrue(got == TestBytes.pattern(total), "every byte arrived once, in order")
        client.close()
        assertConnectionsDrain(to: generation)
    }

    func testABulkDownloadMovesToTheSpliceRelayAndArrivesWhole() throws {
        let handoffs = try counters.handoffs.load(ordering: .relaxed)
        let client = try TestClient(port: forwarder.port)
        let fd = client.fd
        let total = 8 * 1024 * 1024
        XCTAssertTrue(TestBytes.send(fd, Array("STREAM \(total) 1048576 0\n".utf8)))
        let got = TestBytes.readToEnd(fd)
        XCTAssertEqual(got.count, total)
        XCTAssertTrue(got == TestBytes.pattern(total), "the 8 MB arrived byte for byte")
        XCTAssertGreaterThan(try counters.handoffs.load(ordering: .relaxed), handoffs, "the download left the loop for splice")
        client.close()
        assertConnectionsDrain(to: generation)
    }

    func testABulkUploadCarriesItsFirstBytesOverToTheSpliceRelay() throws {
        let handoffs = try counters.handoffs.load(ordering: .relaxed)
        let client = try TestClient(port: forwarder.port)
        let fd = client.fd
        let total = 8 * 1024 * 1024
        let sender = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = TestBytes.send(fd, Array("SINK\n".utf8) + TestBytes.pattern(total))
            shutdown(fd, Int32(SHUT_WR))
            sender.signal()
        }
        XCTAssertEqual(String(decoding: TestBytes.readToEnd(fd), as: UTF8.self), "received \(total)")
        XCTAssertEqual(sender.wait(timeout: .now() + 10), .success)
        XCTAssertGreaterThan(try counters.handoffs.load(ordering: .relaxed), handoffs, "the upload left the loop for splice")
        client.close()
        assertConnectionsDrain(to: generation)
    }

    func testWithNoUpstreamThePortAnswers503() throws {
        forwarder.live.setUnavailable(.stopped)
        let fd = try TestBytes.connect(port: forwarder.port)
        defer { close(fd) }
        XCTAssertTrue(TestBytes.send(fd, Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
        let reply = String(decoding: TestBytes.readToEnd(fd), as: UTF8.self)
        XCTAssertTrue(reply.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), reply)
        XCTAssertTrue(reply.hasSuffix("\r\n\r\ntest-app is stopped\n"), reply)
    }

    func testAnUpstreamThatRefusesGets502AndIsNotCountedAfterwards() throws {
        let closed = try Socket.listen(host: "127.0.0.1", port: 0)
        let refusing = Socket.localPort(closed)
        close(closed)
        forwarder.live.setUpstream(port: refusing, deploymentID: nil)
        let refused = try XCTUnwrap(forwarder.live.current).generation
        let fd = try TestBytes.connect(port: forwarder.port)
        defer { close(fd) }
        XCTAssertTrue(TestBytes.send(fd, Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
        let reply = String(decoding: TestBytes.readToEnd(fd), as: UTF8.self)
        XCTAssertTrue(reply.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), reply)
        assertConnectionsDrain(to: refused)
    }

    func testAnUnansweredConnectHoldsUpNoOtherConnectionThenFallsBackToThePublishedPort() throws {
        // A listener with a full backlog: the kernel drops further SYNs, so connects to it hang.
        let blackhole = try Socket.listen(host: "127.0.0.1", port: 0, backlog: 0)
        defer { close(blackhole) }
        let filler = try Socket.connect(ipv4: "127.0.0.1", port: Socket.localPort(blackhole), timeoutMilliseconds: 2000)
        defer { close(filler) }
        forwarder.live.setUpstream(port: upstream.port, direct: (host: "127.0.0.1", port: Socket.localPort(blackhole)), deploymentID: nil)
        let hanging = try XCTUnwrap(forwarder.live.current).generation

        let first = try TestBytes.connect(port: forwarder.port)
        defer { close(first) }
        XCTAssertTrue(TestBytes.send(first, Array("ECHO\nfirst".utf8)))
        shutdown(first, Int32(SHUT_WR))
        XCTAssertTrue(TestBytes.eventually(within: 5) { forwarder.live.inFlight(to: hanging) == 1 })

        // The next connection goes elsewhere and is answered while the first is still connecting.
        forwarder.live.setUpstream(port: upstream.port, deploymentID: nil)
        XCTAssertEqual(try echo("second"), "second")
        XCTAssertEqual(forwarder.live.inFlight(to: hanging), 1, "the first connection is still waiting for its upstream")
        var pending = pollfd(fd: first, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&pending, 1, 0), 0, "nothing has come back on the first connection yet")

        // After the bridge address's deadline the first one reaches the published port.
        XCTAssertEqual(String(decoding: TestBytes.readToEnd(first), as: UTF8.self), "first")
        assertConnectionsDrain(to: hanging)
    }

    func testCloseFreesThePortAtOnceWhileRelayedConnectionsCarryOn() throws {
        let client = try TestClient(port: forwarder.port)
        let fd = client.fd
        XCTAssertTrue(TestBytes.send(fd, Array("ECHO\nbefore".utf8)))
        XCTAssertEqual(TestBytes.read(fd, count: 6), Array("before".utf8))
        XCTAssertFalse(Socket.canBind(host: "127.0.0.1", port: forwarder.port), "the forwarder listens")

        forwarder.close()
        XCTAssertTrue(Socket.canBind(host: "127.0.0.1", port: forwarder.port), "the port is free once close returns")
        XCTAssertTrue(TestBytes.send(fd, Array(" after".utf8)))
        shutdown(fd, Int32(SHUT_WR))
        XCTAssertEqual(String(decoding: TestBytes.readToEnd(fd), as: UTF8.self), " after", "the open connection is still relayed")
        client.close()
        assertConnectionsDrain(to: generation)
    }

    func testPastItsConnectionLimitAPortAnswers503AndTakesNewOnesOnceSomeEnd() throws {
        let capped = try PortForwarder(host: "127.0.0.1", port: 0, upstream: LiveUpstream(appName: "capped"), maxConnections: 2)
        defer { capped.close() }
        capped.live.setUpstream(port: upstream.port, deploymentID: nil)
        // The upstream waits for a first line these clients never send: both stay open.
        let held = try (0..<2).map { _ in try TestClient(port: capped.port) }
        XCTAssertTrue(TestBytes.eventually(within: 5) { capped.openConnections == 2 }, "open: \(capped.openConnections)")
        let third = try TestClient(port: capped.port)
        let answer = String(decoding: TestBytes.readToEnd(third.fd), as: UTF8.self)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 503 Service Unavailable"), answer)
        XCTAssertTrue(answer.hasSuffix("this app has 2 open connections, its limit; try again shortly\n"), answer)
        held[0].close()
        XCTAssertTrue(TestBytes.eventually(within: 5) { capped.openConnections == 1 })
        XCTAssertEqual(try Self.echo("room again", port: capped.port), "room again")
        withExtendedLifetime(held) {}
    }

    func testAThreadBudgetNeverGivesMoreThanItsLimit() {
        let budget = ThreadBudget(limit: 3)
        XCTAssertEqual((0..<5).map { _ in budget.take() }, [true, true, true, false, false])
        XCTAssertEqual(budget.inUse, 3)
        budget.give()
        XCTAssertTrue(budget.hasRoom)
        XCTAssertTrue(budget.take())
        XCTAssertFalse(budget.take())
    }
}
