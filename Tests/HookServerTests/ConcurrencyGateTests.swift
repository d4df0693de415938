import Dispatch
import Synchronization
import XCTest
@testable import HookServer

final class ConcurrencyGateTests: XCTestCase {
    func testAThirdHolderIsTurnedAwayAtOnceAndALeaverMakesRoom() {
        let gate = ConcurrencyGate(limit: 2)
        let inner: Int?? = gate.ifOpen {
            gate.ifOpen {
                XCTAssertEqual(gate.held, 2)
                XCTAssertNil(gate.ifOpen { 3 }, "a third holder ran")
                return 2
            }
        }
        XCTAssertEqual(inner, .some(.some(2)))
        XCTAssertEqual(gate.held, 0, "a holder that returned still holds its place")
        XCTAssertEqual(gate.ifOpen { 1 }, 1)
    }

    func testAThrowingHolderLeaves() {
        struct Failure: Error {}
        let gate = ConcurrencyGate(limit: 1)
        XCTAssertThrowsError(try gate.ifOpen { throw Failure() })
        XCTAssertEqual(gate.held, 0)
    }

    func testNeverMoreThanTheLimitAtOnce() {
        let gate = ConcurrencyGate(limit: 2)
        let inside = Atomic<Int>(0), most = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 64) { _ in
            for _ in 0..<200 {
                _ = gate.ifOpen {
                    let now = inside.add(1, ordering: .relaxed).newValue
                    _ = most.max(now, ordering: .relaxed)
                    inside.subtract(1, ordering: .relaxed)
                }
            }
        }
        XCTAssertLessThanOrEqual(most.load(ordering: .relaxed), 2)
        XCTAssertEqual(gate.held, 0)
    }
}
