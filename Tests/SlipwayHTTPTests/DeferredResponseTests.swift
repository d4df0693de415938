import XCTest
@testable import SlipwayHTTP

final class DeferredResponseTests: XCTestCase {
    func testReadyBeforeOrAfterTheWaitRunsTheCallbackOnceAndHandsOverTheMakerOnce() throws {
        for fulfilFirst in [true, false] {
            let deferred = DeferredResponse()
            let calls = ManagedCounter()
            XCTAssertNil(deferred.take(), "nothing to take before it is fulfilled")
            if fulfilFirst { deferred.fulfil { .text("made") } }
            deferred.whenReady { calls.increment() }
            XCTAssertEqual(calls.value, fulfilFirst ? 1 : 0)
            if !fulfilFirst { deferred.fulfil { .text("made") } }
            XCTAssertEqual(calls.value, 1)
            let make = try XCTUnwrap(deferred.take())
            XCTAssertEqual(try make().status, 200)
            XCTAssertNil(deferred.take(), "the maker is handed over once")
        }
    }
}

private final class ManagedCounter: @unchecked Sendable {
    // @unchecked Sendable: used from the test's own thread only (the callbacks run synchronously).
    var value = 0
    func increment() { value += 1 }
}
