import Glibc
import XCTest
@testable import SlipwaySystem

final class EpollTests: XCTestCase {
    private func socketPair() throws -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        return (fds[0], fds[1])
    }

    func testOneShotReportsOnceUntilRearmedAndCarriesTheToken() throws {
        let epoll = try Epoll()
        let (a, b) = try socketPair()
        defer { close(a); close(b) }
        try epoll.add(a, events: Epoll.readable | Epoll.oneShot, token: 42)
        var events = Epoll.Events(capacity: 4)

        try epoll.wait(&events, timeoutMilliseconds: 0)
        XCTAssertEqual(events.count, 0, "nothing written yet")

        XCTAssertEqual(write(b, "x", 1), 1)
        try epoll.wait(&events, timeoutMilliseconds: 1000)
        XCTAssertEqual(events.count, 1)
        XCTAssertEqual(events[0].token, 42)
        XCTAssertTrue(events[0].isReadable)

        // Still unread, but disarmed: one-shot means one report.
        try epoll.wait(&events, timeoutMilliseconds: 50)
        XCTAssertEqual(events.count, 0)

        // Rearming a descriptor that is already readable reports it at once, with the new token.
        try epoll.rearm(a, events: Epoll.readable | Epoll.oneShot, token: 43)
        try epoll.wait(&events, timeoutMilliseconds: 1000)
        XCTAssertEqual(events.count, 1)
        XCTAssertEqual(events[0].token, 43)

        // A removed descriptor cannot be rearmed: the error names the call.
        epoll.remove(a)
        XCTAssertThrowsError(try epoll.rearm(a, events: Epoll.readable, token: 1)) { error in
            XCTAssertEqual((error as? IOError)?.function, "epoll_ctl(MOD)")
            XCTAssertEqual((error as? IOError)?.errno, ENOENT)
        }
    }

    func testEdgeTriggeredReportsEachNewArrivalOnceAndStaysArmed() throws {
        let epoll = try Epoll()
        let (a, b) = try socketPair()
        defer { close(a); close(b) }
        try epoll.add(a, events: Epoll.readable | Epoll.edgeTriggered, token: 7)
        var events = Epoll.Events(capacity: 4)

        XCTAssertEqual(write(b, "x", 1), 1)
        try epoll.wait(&events, timeoutMilliseconds: 1000)
        XCTAssertEqual(events.count, 1)
        XCTAssertEqual(events[0].token, 7)

        // Unread bytes are not reported again: only a change is.
        try epoll.wait(&events, timeoutMilliseconds: 50)
        XCTAssertEqual(events.count, 0)

        // A new arrival is, with no rearm in between.
        XCTAssertEqual(write(b, "y", 1), 1)
        try epoll.wait(&events, timeoutMilliseconds: 1000)
        XCTAssertEqual(events.count, 1)
        XCTAssertEqual(events[0].token, 7)
    }
}
