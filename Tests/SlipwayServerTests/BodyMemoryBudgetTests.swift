import Dispatch
import Synchronization
import XCTest
@testable import SlipwayServer

final class BodyMemoryBudgetTests: XCTestCase {
    func testReservesOnlyWhatFitsAndGivesItBack() {
        let budget = BodyMemoryBudget(capacity: 100)
        XCTAssertTrue(budget.reserve(60))
        XCTAssertFalse(budget.reserve(41), "a reservation that does not fit takes nothing")
        XCTAssertTrue(budget.reserve(40))
        XCTAssertEqual(budget.inUse, 100)
        budget.release(60)
        XCTAssertTrue(budget.reserve(60))
        XCTAssertTrue(budget.reserve(0))
    }

    func testConcurrentReservationsNeverExceedTheCapacity() {
        let budget = BodyMemoryBudget(capacity: 1000)
        let overdrawn = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<10_000 {
                if budget.reserve(7) {
                    if budget.inUse > 1000 { overdrawn.add(1, ordering: .relaxed) }
                    budget.release(7)
                }
            }
        }
        XCTAssertEqual(overdrawn.load(ordering: .relaxed), 0)
        XCTAssertEqual(budget.inUse, 0)
    }
}
