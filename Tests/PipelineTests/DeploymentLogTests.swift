import Foundation
import Glibc
import SlipwaySystem
import XCTest
@testable import Pipeline

final class DeploymentLogTests: XCTestCase {
    func testCapKeepsStartAndEnd() throws {
        let path = NSTemporaryDirectory() + "slipway-log-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = DeploymentLog(path: path, cap: 10_000)
        log.line("FIRST LINE")
        for i in 0..<2000 { log.line("filler line \(i)") }
        log.line("LAST LINE")
        log.close()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(text.contains("FIRST LINE"))
        XCTAssertTrue(text.contains("LAST LINE"))
        XCTAssertTrue(text.contains("bytes of log omitted"))
        XCTAssertLessThan(text.utf8.count, 11_000)
    }

    /// Discarded logs are never closed; like FileHandle before, dropping one must free its descriptor.
    func testDroppedDeploymentLogsGiveTheirDescriptorsBack() throws {
        func openDescriptors() throws -> Int { try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count }
        let before = try openDescriptors()
        for _ in 0..<500 { DeploymentLog.discard().line("nothing") }
        XCTAssertLessThan(try openDescriptors(), before + 10)
    }

    func testDeploymentLogAppendsToAnExistingFile() throws {
        let oldMask = umask(0)
        defer { umask(oldMask) }
        let path = NSTemporaryDirectory() + "slipway-log-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = DeploymentLog(path: path)
        first.line("one")
        first.close()
        let second = DeploymentLog(path: path)
        second.line("two")
        second.close()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text.split(separator: "\n").map { $0.dropFirst(25) }, ["one", "two"])
        // 0600 whatever the umask: a build's output may echo what it was given (this asserted
        // 0o666 & ~umask before logs were made private).
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
    }
}
