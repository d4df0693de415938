import XCTest
@testable import SlipwaySystem

final class InheritedListenersTests: XCTestCase {
    func testSocketListenUsesAnInheritedListenerForItsAddress() throws {
        let original = try Socket.listen(host: "127.0.0.1", port: 0)
        let port = Socket.localPort(original)
        InheritedListeners.shared.add(host: "127.0.0.1", port: port, fd: original)
        // Binding again would fail with EADDRINUSE: the inherited socket is handed out instead.
        XCTAssertEqual(try Socket.listen(host: "127.0.0.1", port: port), original)
        XCTAssertThrowsError(try Socket.listen(host: "127.0.0.1", port: port), "taken once, then it is the caller's")
        close(original)

        let unused = try Socket.listen(host: "127.0.0.1", port: 0)
        let unusedPort = Socket.localPort(unused)
        InheritedListeners.shared.add(host: "127.0.0.1", port: unusedPort, fd: unused)
        XCTAssertEqual(InheritedListeners.shared.closeUnclaimed(), ["127.0.0.1 \(unusedPort)"])
        XCTAssertEqual(fcntl(unused, F_GETFD), -1, "closed")
        XCTAssertEqual(InheritedListeners.shared.count, 0)
    }
}
