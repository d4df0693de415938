import Foundation
import XCTest
@testable import HookServer

final class PageModelTests: XCTestCase {
    /// Durations were written with String(format: "%.1f s"); pages must show the same text.
    func testDurationsReadAsBefore() {
        for ms in Array(0..<200_000) + [3_599_999, 3_600_000, 86_400_000] {
            let old = ms < 1000 ? "\(ms) ms" : ms < 60_000 ? String(format: "%.1f s", Double(ms) / 1000) : "\(ms / 60_000) min \(ms % 60_000 / 1000) s"
            XCTAssertEqual(PageModel.duration(ms), old, "\(ms)")
        }
    }

    func testHelpColumnsLineUp() {
        let lines = CommandLineParser.helpText.split(separator: "\n").filter { $0.hasPrefix("  --") }
        XCTAssertFalse(lines.isEmpty)
        for line in lines { XCTAssertEqual(line.dropFirst(30).first.map { $0 != " " }, true, String(line)) }
    }
}
