import Foundation
import Synchronization
import XCTest
@testable import SlipwaySystem

final class OSThreadTests: XCTestCase {
    func testRunsTheBodyOnANamedThreadOfItsOwn() {
        let done = expectation(description: "thread ran")
        let seen = Mutex<(name: String, main: Bool)?>(nil)
        let started = OSThread.detach(name: "a-rather-long-thread-name", stackSize: 256 * 1024) {
            let comm = PosixFile.read("/proc/thread-self/comm").map { String(decoding: $0, as: UTF8.self) } ?? "?"
            seen.withLock { $0 = (comm.trimmingWhitespaceAndNewlines(), Thread.isMainThread) }
            done.fulfill()
        }
        XCTAssertTrue(started)
        wait(for: [done], timeout: 5)
        let result = seen.withLock { $0 }
        XCTAssertEqual(result?.name, "a-rather-long-t", "names are cut to the 15 bytes Linux keeps")
        XCTAssertEqual(result?.main, false)
    }

    func testManyThreadsAllRun() {
        let count = Atomic<Int>(0)
        let done = expectation(description: "all ran")
        done.expectedFulfillmentCount = 200
        for _ in 0..<200 {
            OSThread.detach(name: "t", stackSize: 64 * 1024) {
                count.add(1, ordering: .relaxed)
                done.fulfill()
            }
        }
        wait(for: [done], timeout: 10)
        XCTAssertEqual(count.load(ordering: .relaxed), 200)
    }
}
