import XCTest
@testable import Edge

final class AccessRingTests: XCTestCase {
    func testEmptyRingSnapshotIsEmpty() {
        XCTAssertEqual(AccessRing(capacity: 3).snapshot(), [])
    }

    func testSnapshotIsNewestFirstBeforeTheRingFills() {
        let ring = AccessRing(capacity: 5)
        for n in 1...3 { ring.append(AccessTestRecords.make(n)) }
        XCTAssertEqual(ring.snapshot().map(\.requestID), ["req-3", "req-2", "req-1"])
        XCTAssertEqual(ring.count, 3)
    }

    /// Past capacity the oldest go, on every lap, and the count stays at capacity.
    func testRingWrapsKeepingTheNewest() {
        let ring = AccessRing(capacity: 4)
        for n in 1...4 { ring.append(AccessTestRecords.make(n)) }
        XCTAssertEqual(ring.snapshot().map(\.requestID), ["req-4", "req-3", "req-2", "req-1"])
        ring.append(AccessTestRecords.make(5))
        XCTAssertEqual(ring.snapshot().map(\.requestID), ["req-5", "req-4", "req-3", "req-2"])
        for n in 6...11 { ring.append(AccessTestRecords.make(n)) }
        XCTAssertEqual(ring.snapshot().map(\.requestID), ["req-11", "req-10", "req-9", "req-8"])
        XCTAssertEqual(ring.count, 4)
    }

    func testCapacityOne() {
        let ring = AccessRing(capacity: 1)
        for n in 1...3 { ring.append(AccessTestRecords.make(n)) }
        XCTAssertEqual(ring.snapshot().map(\.requestID), ["req-3"])
    }

    /// Many threads appending while others read: nothing lost beyond capacity, no torn state.
    func testConcurrentAppendsKeepExactlyCapacity() {
        let ring = AccessRing(capacity: 200)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for n in 0..<1000 {
                ring.append(AccessTestRecords.make(worker * 1000 + n))
                if n % 100 == 0 { _ = ring.snapshot() }
            }
        }
        let snapshot = ring.snapshot()
        XCTAssertEqual(snapshot.count, 200)
        XCTAssertEqual(Set(snapshot.map(\.requestID)).count, 200)
    }
}
