import XCTest
@testable import HookServer

final class DeployFormDomainsTests: XCTestCase {
    /// The forms' domains field: one per line or comma-separated, trimmed, blanks skipped; the
    /// names themselves are checked later, as the API's are.
    func testTheFieldSplitsOnLinesAndCommas() {
        let cases: [(String, [String])] = [
            ("", []),
            ("example.com", ["example.com"]),
            ("example.com\nwww.example.com", ["example.com", "www.example.com"]),
            ("example.com\r\n\r\n  www.example.com  \r\n", ["example.com", "www.example.com"]),
            ("a.example.com, b.example.com,,c.example.com", ["a.example.com", "b.example.com", "c.example.com"]),
            ("a.example.com,\nbad name", ["a.example.com", "bad name"]),
        ]
        for (text, names) in cases { XCTAssertEqual(DeployForm.domains(text), names, text) }
    }
}
