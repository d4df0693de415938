import XCTest
@testable import HookServer

final class UpgradeMessagesTests: XCTestCase {
    func testTheListOfListenersRoundTripsAndMustPairWithTheDescriptors() {
        let listeners = [HandedListener(host: "127.0.0.1", port: 5000, fd: 7), HandedListener(host: "0.0.0.0", port: 8001, fd: 9)]
        let text = HandedListener.message(listeners)
        XCTAssertEqual(text, "listeners\n127.0.0.1 5000\n0.0.0.0 8001")
        XCTAssertEqual(HandedListener.parse(text, descriptors: [7, 9]), listeners)
        XCTAssertNil(HandedListener.parse(text, descriptors: [7]), "a line without its descriptor")
        XCTAssertNil(HandedListener.parse(text, descriptors: [7, 9, 11]), "a descriptor without its line")
        XCTAssertNil(HandedListener.parse("listeners\n127.0.0.1 0", descriptors: [7]), "port 0 is no listener's")
        XCTAssertNil(HandedListener.parse("listeners\n127.0.0.1", descriptors: [7]))
        XCTAssertNil(HandedListener.parse("refused: busy", descriptors: []))
        XCTAssertEqual(HandedListener.parse("listeners", descriptors: []), [], "nothing to hand over is a valid answer")
    }

    func testTheSuccessorGetsTheSameArgumentsWithTakeoverOnce() {
        XCTAssertEqual(UpgradeLauncher.successorArguments(["serve", "--port", "5000"]), ["serve", "--port", "5000", "--takeover"])
        XCTAssertEqual(UpgradeLauncher.successorArguments(["serve", "--takeover", "--port", "5000"]), ["serve", "--takeover", "--port", "5000"])
        XCTAssertEqual(UpgradeLauncher.successorArguments([]), ["--takeover"])
    }

    func testTakeoverIsAFlagOfServe() throws {
        guard case .serve(let config) = try CommandLineParser.parse(["serve", "--takeover"], environment: [:]) else {
            return XCTFail("not serve")
        }
        XCTAssertTrue(config.takeover)
        guard case .serve(let plain) = try CommandLineParser.parse(["serve"], environment: ["SLIPWAY_TAKEOVER": "1"]) else {
            return XCTFail("not serve")
        }
        XCTAssertFalse(plain.takeover, "only the flag: a takeover is never left in an environment file")
    }
}
