import Foundation
import XCTest
@testable import Edge
import SlipwaySystem

final class AccessLogFileTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "access-log-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func contents(_ path: String) -> String? {
        PosixFile.read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    private func lines(_ path: String) -> [String] {
        (contents(path) ?? "").split(separator: "\n").map(String.init)
    }

    /// Records 10 to 99 all make lines of one length, so the boundary is exact arithmetic.
    private var lineBytes: Int { AccessLogLine.format(AccessTestRecords.make(10)).utf8.count }

    func testLinesAreWrittenOnlyWhenFlushed() throws {
        let file = AccessLogFile(path: directory + "/app.log")
        file.append(AccessTestRecords.make(1, path: "/a?secret=1"))
        file.append(AccessTestRecords.make(2))
        XCTAssertNil(contents(file.path), "append must never touch the disk")
        XCTAssertEqual(file.pendingLines, 2)
        try file.flush()
        XCTAssertEqual(lines(file.path), [
            "2025-12-02T00:52:47.123Z GET /a 200 100 12.345 7 req-1",
            "2025-12-02T00:52:48.123Z GET /r/2 200 100 12.345 7 req-2",
        ])
        XCTAssertFalse(contents(file.path)!.contains("secret"))
        XCTAssertEqual(file.pendingLines, 0)
        var info = stat()
        XCTAssertEqual(stat(file.path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
    }

    /// The file fills to exactly the limit; the next line rotates it to .1, then .1 to .2 and so on,
    /// and only `generations` old files are kept.
    func testRotationAtTheSizeBoundaryKeepsGenerations() throws {
        let perFile = 4
        let file = AccessLogFile(path: directory + "/app.log",
                                 limits: .init(maximumFileBytes: lineBytes * perFile, generations: 3))
        for n in 10..<(10 + perFile) { file.append(AccessTestRecords.make(n)) }
        try file.flush()
        XCTAssertEqual(contents(file.path)?.utf8.count, lineBytes * perFile, "exactly at the limit: no rotation yet")
        XCTAssertNil(contents(file.generationPath(1)))

        file.append(AccessTestRecords.make(14))
        try file.flush()
        let ids = { (path: String) in self.lines(path).map { String($0.split(separator: " ").last!) } }
        XCTAssertEqual(ids(file.path), ["req-14"])
        XCTAssertEqual(ids(file.generationPath(1)), ["req-10", "req-11", "req-12", "req-13"])

        // Fifteen more in one batch (rotation happens inside a batch too) fill the file that
        // holds req-14 and three more; the first file, req-10 to 13, is past the third generation.
        for n in 15..<30 { file.append(AccessTestRecords.make(n)) }
        try file.flush()
        XCTAssertEqual(ids(file.path), ["req-26", "req-27", "req-28", "req-29"])
        XCTAssertEqual(ids(file.generationPath(1)), ["req-22", "req-23", "req-24", "req-25"])
        XCTAssertEqual(ids(file.generationPath(2)), ["req-18", "req-19", "req-20", "req-21"])
        XCTAssertEqual(ids(file.generationPath(3)), ["req-14", "req-15", "req-16", "req-17"])
        XCTAssertNil(contents(file.generationPath(4)), "only three generations are kept")
    }

    /// A restarted server appends to the file it left, and counts its bytes toward rotation.
    func testReopenedFileCountsExistingBytes() throws {
        let path = directory + "/app.log"
        let first = AccessLogFile(path: path, limits: .init(maximumFileBytes: lineBytes * 3, generations: 1))
        for n in 10...11 { first.append(AccessTestRecords.make(n)) }
        try first.close()
        let second = AccessLogFile(path: path, limits: .init(maximumFileBytes: lineBytes * 3, generations: 1))
        for n in 12...13 { second.append(AccessTestRecords.make(n)) }
        try second.flush()
        XCTAssertEqual(lines(second.generationPath(1)).count, 3)
        XCTAssertEqual(lines(path).count, 1)
    }

    /// A disk that cannot keep up: past the bound, lines are dropped and counted, never queued.
    func testFullQueueDropsAndCounts() throws {
        let file = AccessLogFile(path: directory + "/app.log", limits: .init(maximumPendingLines: 3))
        let accepted = (1...10).map { file.append(AccessTestRecords.make($0)) }
        XCTAssertEqual(accepted, [true, true, true] + Array(repeating: false, count: 7))
        XCTAssertEqual(file.pendingLines, 3)
        XCTAssertEqual(file.droppedLines, 7)
        try file.flush()
        XCTAssertEqual(lines(file.path).count, 3)
        XCTAssertTrue(file.append(AccessTestRecords.make(11)), "room again once written")
        XCTAssertEqual(file.droppedLines, 7)
    }

    /// A write that fails (here: the directory is gone) is reported once, its lines are counted
    /// as dropped, and the file recovers when it can be opened again.
    func testWriteFailureIsReportedOnceAndCounted() throws {
        let sub = directory + "/gone"
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        let file = AccessLogFile(path: sub + "/app.log")
        try FileManager.default.removeItem(atPath: sub)
        file.append(AccessTestRecords.make(1))
        file.append(AccessTestRecords.make(2))
        XCTAssertThrowsError(try file.flush()) { error in
            let e = error as? AccessLogFileError
            XCTAssertEqual(e?.cause.function, "open")
            XCTAssertEqual(e?.cause.errno, ENOENT)
            XCTAssertEqual(e?.lostLines, 2)
        }
        file.append(AccessTestRecords.make(3))
        XCTAssertNoThrow(try file.flush(), "still failing: counted, not reported again")
        XCTAssertEqual(file.droppedLines, 3)
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        file.append(AccessTestRecords.make(4))
        try file.flush()
        XCTAssertEqual(lines(file.path).count, 1)
    }

    func testOnPendingIsCalledOnlyWhenTheQueueStopsBeingEmpty() throws {
        let calls = PosixMutex(0)
        let file = AccessLogFile(path: directory + "/app.log", onPending: { _ in calls.withLock { $0 += 1 } })
        for n in 1...5 { file.append(AccessTestRecords.make(n)) }
        XCTAssertEqual(calls.withLock { $0 }, 1)
        try file.flush()
        file.append(AccessTestRecords.make(6))
        XCTAssertEqual(calls.withLock { $0 }, 2)
    }

    func testClosedFileRefusesLinesAndRemoveDeletesGenerations() throws {
        let file = AccessLogFile(path: directory + "/app.log", limits: .init(maximumFileBytes: lineBytes, generations: 2))
        for n in 10...12 { file.append(AccessTestRecords.make(n)) }
        try file.flush()
        XCTAssertNotNil(contents(file.generationPath(2)))
        file.remove()
        XCTAssertFalse(file.append(AccessTestRecords.make(4)))
        for path in [file.path, file.generationPath(1), file.generationPath(2)] { XCTAssertNil(contents(path), path) }
    }
}
