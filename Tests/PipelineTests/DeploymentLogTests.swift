import Foundation
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
}
