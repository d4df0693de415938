import Foundation
import XCTest
@testable import Edge
import SlipwaySystem

final class AccessLogRegistryTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "access-registry-\(UUID().uuidString)/access"
        try FileManager.default.createDirectory(atPath: (directory as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent)
    }

    private func lines(_ path: String) -> [String] {
        (PosixFile.read(path).map { String(decoding: $0, as: UTF8.self) } ?? "").split(separator: "\n").map(String.init)
    }

    func testUnknownAppReadsEmpty() throws {
        let registry = try AccessLogRegistry(directory: nil)
        XCTAssertEqual(registry.recent(appID: 1), [])
        XCTAssertEqual(registry.counters(appID: 1), .zero)
    }

    /// The edge's one call: ring, counters and file of that app, and no other's.
    func testLogFeedsRingCountersAndFileOfThatAppOnly() throws {
        let registry = try AccessLogRegistry(directory: directory, ringCapacity: 2)
        registry.log(for: 1, name: "web", AccessTestRecords.make(1, status: 200))
        registry.log(for: 1, name: "web", AccessTestRecords.make(2, status: 404))
        registry.log(for: 1, name: "web", AccessTestRecords.make(3, status: 502, upstreamFailed: true))
        registry.log(for: 2, name: "api", AccessTestRecords.make(4))
        XCTAssertEqual(registry.recent(appID: 1).map(\.requestID), ["req-3", "req-2"])
        XCTAssertEqual(registry.counters(appID: 1).totalRequests, 3)
        XCTAssertEqual(registry.counters(appID: 1).upstreamErrors, 1)
        XCTAssertEqual(registry.recent(appID: 2).map(\.requestID), ["req-4"])
        XCTAssertTrue(registry.appLog(for: 1, name: "web") === registry.appLog(for: 1, name: "web"))

        // The writer thread writes without being asked; shutdown waits for it.
        registry.shutdown()
        XCTAssertEqual(lines(directory + "/web.log").count, 3)
        XCTAssertEqual(lines(directory + "/api.log").count, 1)
        var info = stat()
        XCTAssertEqual(stat(directory, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o700)
    }

    func testWriterThreadWritesInTheBackground() throws {
        let registry = try AccessLogRegistry(directory: directory)
        defer { registry.shutdown() }
        for n in 1...500 { registry.log(for: 1, name: "web", AccessTestRecords.make(n)) }
        let deadline = Date().addingTimeInterval(5)
        while lines(directory + "/web.log").count < 500 && Date() < deadline { usleep(10_000) }
        XCTAssertEqual(lines(directory + "/web.log").count, 500)
    }

    func testRemoveForgetsTheAppAndDeletesItsFiles() throws {
        let registry = try AccessLogRegistry(directory: directory)
        defer { registry.shutdown() }
        let log = registry.appLog(for: 1, name: "web")
        log.record(AccessTestRecords.make(1))
        try XCTUnwrap(log.file).flush()
        XCTAssertEqual(lines(directory + "/web.log").count, 1)
        registry.remove(appID: 1, name: "web")
        XCTAssertEqual(registry.recent(appID: 1), [])
        XCTAssertEqual(registry.counters(appID: 1), .zero)
        XCTAssertNil(PosixFile.read(directory + "/web.log"))
        // A later app with the same name starts afresh.
        registry.log(for: 9, name: "web", AccessTestRecords.make(2))
        XCTAssertEqual(registry.recent(appID: 9).map(\.requestID), ["req-2"])
    }

    func testNamesThatCouldLeaveTheDirectoryGetNoFile() throws {
        let registry = try AccessLogRegistry(directory: directory + "-x")
        defer { registry.shutdown() }
        for name in ["", "../x", ".hidden", "a/b"] {
            XCTAssertNil(registry.appLog(for: name.count + 100, name: name).file, name)
        }
        XCTAssertNotNil(registry.appLog(for: 1, name: "ok-name").file)
    }
}
