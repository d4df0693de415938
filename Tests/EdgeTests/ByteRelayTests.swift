import Foundation
import XCTest
@testable import Edge
import SlipwaySystem

/// client ⇄ relay ⇄ server over real loopback TCP, through both of the relay's paths.
final class ByteRelayTests: XCTestCase {
    /// A connected pair: (the end we keep, the end the relay gets).
    private func tcpPair() throws -> (Int32, Int32) {
        let listener = try Socket.listen(host: "127.0.0.1", port: 0)
        defer { close(listener) }
        let ours = try Socket.connect(ipv4: "127.0.0.1", port: Socket.localPort(listener), timeoutMilliseconds: 2000)
        _ = fcntl(ours, F_SETFL, fcntl(ours, F_GETFL) & ~O_NONBLOCK)
        let theirs = accept(listener, nil, nil)
        XCTAssertGreaterThanOrEqual(theirs, 0)
        return (ours, theirs)
    }

    private static func readAll(_ fd: Int32) -> [UInt8] {
        var out = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return out }
            out += buffer[0..<n]
        }
    }

    func testSmallAndBulkTransfersArriveWholeBothWaysWithHalfCloses() throws {
        let (client, relayClientSide) = try tcpPair()
        let (server, relayServerSide) = try tcpPair()
        let relayDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            ByteRelay.pump(relayClientSide, relayServerSide, idleMilliseconds: 10_000)
            close(relayClientSide)
            close(relayServerSide)
            relayDone.signal()
        }
        // A short request up, then 8 MB down: more than the buffer, so the download switches to splice.
        let request = Array("GET /big HTTP/1.1\r\n\r\n".utf8)
        var download = [UInt8](repeating: 0, count: 8 * 1024 * 1024)
        for i in download.indices { download[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 13) }
        let payload = download
        let serverGot = DispatchSemaphore(value: 0)
        let received = LockedBytes()
        Thread.detachNewThread {
            received.set(Self.readAll(server))   // ends when the client half-closes
            serverGot.signal()
            _ = payload.withUnsafeBytes { ByteRelay.sendAll(server, $0.baseAddress!, $0.count) }
            shutdown(server, Int32(SHUT_WR))
        }
        XCTAssertTrue(request.withUnsafeBytes { ByteRelay.sendAll(client, $0.baseAddress!, $0.count) })
        shutdown(client, Int32(SHUT_WR))
        XCTAssertEqual(serverGot.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(received.get(), request, "the client's half-close reached the server after its bytes")
        let got = Self.readAll(client)
        XCTAssertEqual(got.count, download.count)
        XCTAssertTrue(got == download, "the bulk download arrived byte for byte")
        XCTAssertEqual(relayDone.wait(timeout: .now() + 10), .success, "the relay ends once both directions have")
        close(client)
        close(server)
    }
}

private final class LockedBytes: @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    func set(_ value: [UInt8]) { lock.lock(); bytes = value; lock.unlock() }
    func get() -> [UInt8] { lock.lock(); defer { lock.unlock() }; return bytes }
}
