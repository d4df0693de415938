import Dispatch
import Synchronization
import XCTest
@testable import HookServer

final class FailureThrottleTests: XCTestCase {
    /// A clock the test moves by hand, in milliseconds.
    private final class Clock: Sendable {
        let now = Atomic<Int>(1_000_000)
        func advance(seconds: Int) { now.add(seconds * 1000, ordering: .relaxed) }
    }

    private func throttle(limit: Int = 5, capacity: Int = 100, clock: Clock) -> FailureThrottle {
        FailureThrottle(limit: limit, windowSeconds: 60, capacity: capacity, now: { clock.now.load(ordering: .relaxed) })
    }

    private func admitted(_ admission: FailureThrottle.Admission, file: StaticString = #filePath, line: UInt = #line) -> FailureThrottle.Reservation? {
        guard case .admitted(let reservation) = admission else {
            XCTFail("refused: \(admission)", file: file, line: line)
            return nil
        }
        return reservation
    }

    func testTheSixthAttemptWithinTheWindowIsRefusedUntilItEnds() {
        let clock = Clock()
        let throttle = throttle(clock: clock)
        for _ in 1...5 { _ = admitted(throttle.reserve(from: "192.0.2.1")) }
        clock.advance(seconds: 20)
        XCTAssertEqual(throttle.reserve(from: "192.0.2.1"), .refused(retryAfter: 40))
        // Another client has its own budget.
        XCTAssertNotNil(admitted(throttle.reserve(from: "192.0.2.2")))
        clock.advance(seconds: 39)
        XCTAssertEqual(throttle.reserve(from: "192.0.2.1"), .refused(retryAfter: 1))
        clock.advance(seconds: 1)
        XCTAssertNotNil(admitted(throttle.reserve(from: "192.0.2.1")), "a new window after the old one ended")
    }

    func testAReleasedAttemptDoesNotCountAndAForgivenClientStartsAgain() {
        let clock = Clock()
        let throttle = throttle(clock: clock)
        for _ in 1...10 {
            guard let r = admitted(throttle.reserve(from: "192.0.2.1")) else { return }
            throttle.release(r)
        }
        for _ in 1...4 { _ = admitted(throttle.reserve(from: "192.0.2.1")) }
        guard let fifth = admitted(throttle.reserve(from: "192.0.2.1")) else { return }
        throttle.forgive(fifth)
        for _ in 1...5 { _ = admitted(throttle.reserve(from: "192.0.2.1")) }
        if case .admitted = throttle.reserve(from: "192.0.2.1") { XCTFail("a sixth failure after forgiving was admitted") }
    }

    func testClientsAreKeyedByIPv4AddressOrIPv6Slash64() {
        let cases: [(first: String, second: String, shareABudget: Bool)] = [
            ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true),
            ("2001:db8:1:2::1", "2001:db8:1:3::1", false),
            ("::ffff:192.0.2.7", "192.0.2.7", true),
            ("192.0.2.7", "192.0.2.8", false),
        ]
        for c in cases {
            let throttle = throttle(limit: 1, clock: Clock())
            _ = admitted(throttle.reserve(from: c.first))
            let second = throttle.reserve(from: c.second)
            if case .refused = second { XCTAssertTrue(c.shareABudget, "\(c.second) shares \(c.first)'s budget") } else {
                XCTAssertFalse(c.shareABudget, "\(c.second) has a budget apart from \(c.first)'s")
            }
        }
    }

    func testMemoryIsBoundedByExpiryAndByCapacity() {
        let clock = Clock()
        let throttle = throttle(limit: 1, capacity: 50, clock: clock)
        for i in 0..<40 { _ = throttle.reserve(from: "10.0.0.\(i)") }
        XCTAssertEqual(throttle.trackedClients, 40)
        clock.advance(seconds: 60)
        _ = throttle.reserve(from: "10.0.1.1")
        XCTAssertEqual(throttle.trackedClients, 1, "expired clients are dropped")

        // A client with many addresses: the table stays at its capacity, forgetting the oldest.
        for i in 0..<10_000 { _ = throttle.reserve(from: "10.\(1 + i / 65536).\(i / 256 % 256).\(i % 256)") }
        XCTAssertEqual(throttle.trackedClients, 50)
        XCTAssertNotNil(admitted(throttle.reserve(from: "10.0.1.1")), "the oldest client was forgotten")
    }

    /// The old check-then-record let every concurrent attempt through; a reservation is atomic.
    func testConcurrentAttemptsFromOneClientAdmitNoMoreThanTheLimit() {
        let throttle = throttle(clock: Clock())
        let admittedCount = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 200) { _ in
            if case .admitted = throttle.reserve(from: "198.51.100.1") { admittedCount.add(1, ordering: .relaxed) }
        }
        XCTAssertEqual(admittedCount.load(ordering: .relaxed), 5)
    }
}
