import Glibc
import XCTest
@testable import Edge

final class IdleConnectionsTests: XCTestCase {
    /// A descriptor the pool can own and close: one end of a pipe (the other is closed here).
    private func descriptor() -> Int32 {
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        close(ends[1])
        return ends[0]
    }

    private func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) != -1 }

    /// An app no request reaches any more still has its pool emptied: the supervisor's round
    /// closes connections past their idle time, and only those.
    func testExpiredConnectionsCloseWithoutARequest() {
        var pool = IdleConnections()
        let old = descriptor(), fresh = descriptor()
        pool.put(old, generation: 1, now: 0)
        pool.put(fresh, generation: 1, now: 3_000)
        pool.closeExpired(now: IdleConnections.idleMilliseconds)
        XCTAssertEqual(pool.count, 1)
        XCTAssertFalse(isOpen(old))
        XCTAssertTrue(isOpen(fresh))
        XCTAssertEqual(pool.take(generation: 1, now: IdleConnections.idleMilliseconds)?.fd, fresh)
        close(fresh)
    }

    func testAGenerationKeepsAtMostItsCapacityAndASwitchClosesTheRest() {
        var pool = IdleConnections()
        let fds = (0..<(IdleConnections.capacity + 1)).map { _ in descriptor() }
        for fd in fds { pool.put(fd, generation: 1, now: 0) }
        XCTAssertEqual(pool.count, IdleConnections.capacity)
        XCTAssertFalse(isOpen(fds.last!), "the one past capacity is closed")
        let other = descriptor()
        pool.put(other, generation: 2, now: 0)
        pool.closeAll(except: 2)
        XCTAssertEqual(pool.count, 1)
        XCTAssertTrue(fds.dropLast().allSatisfy { !isOpen($0) })
        XCTAssertEqual(pool.take(generation: 2, now: 0)?.fd, other)
        close(other)
    }
}
