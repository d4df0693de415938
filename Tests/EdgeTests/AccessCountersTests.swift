import XCTest
@testable import Edge

final class AccessCountersTests: XCTestCase {
    func testNewCountersAreZeroInEveryClass() {
        let snapshot = AccessCounters().snapshot()
        XCTAssertEqual(snapshot, .zero)
        XCTAssertEqual(snapshot.requests.count, 5)
        XCTAssertEqual(snapshot.totalRequests, 0)
    }

    func testRequestsAreCountedByClassWithBytesAndUpstreamErrors() {
        let counters = AccessCounters()
        let statuses = [101, 200, 204, 200, 301, 304, 404, 400, 500, 502, 504]
        for (n, status) in statuses.enumerated() {
            counters.add(AccessTestRecords.make(n, status: status, bytesIn: 10, bytesOut: 1000,
                                                upstreamFailed: status == 502 || status == 504))
        }
        // The app's own 502, not the edge's: an answer, not an upstream error.
        counters.add(AccessTestRecords.make(99, status: 502, bytesIn: 0, bytesOut: 50))
        // A response cut off mid-body: the status was 200, the upstream still failed.
        counters.add(AccessTestRecords.make(100, status: 200, bytesIn: 0, bytesOut: 7, upstreamFailed: true))
        let s = counters.snapshot()
        XCTAssertEqual(s.requests, [.informational: 1, .success: 4, .redirection: 2, .clientError: 2, .serverError: 4])
        XCTAssertEqual(s.totalRequests, 13)
        XCTAssertEqual(s.bytesIn, 110)
        XCTAssertEqual(s.bytesOut, 11_057)
        XCTAssertEqual(s.upstreamErrors, 3)
    }

    func testConcurrentAddsAreAllCounted() {
        let counters = AccessCounters()
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for n in 0..<1000 { counters.add(AccessTestRecords.make(n, status: worker % 2 == 0 ? 200 : 404, bytesOut: 3)) }
        }
        let s = counters.snapshot()
        XCTAssertEqual(s.requests[.success], 4000)
        XCTAssertEqual(s.requests[.clientError], 4000)
        XCTAssertEqual(s.bytesOut, 24_000)
    }
}
