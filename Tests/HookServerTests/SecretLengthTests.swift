import XCTest
@testable import HookServer

/// The two secrets' minimum lengths: a shorter one stops the start (main exits 2) with a message
/// naming the variable and the minimum, never the value.
final class SecretLengthTests: XCTestCase {
    func testShortSecretsAreRefusedWithoutShowingThem() {
        let cases: [(env: [String: String], refused: String?)] = [
            (["SLIPWAY_ADMIN_PASSWORD": "elevenchars"], "SLIPWAY_ADMIN_PASSWORD"),
            (["SLIPWAY_ADMIN_PASSWORD": "twelve-chars"], nil),
            (["SLIPWAY_API_TOKEN": "twenty-three-characters"], "SLIPWAY_API_TOKEN"),
            (["SLIPWAY_API_TOKEN": "twenty-four-characters!!"], nil),
            // Empty means unset: generated.
            (["SLIPWAY_ADMIN_PASSWORD": "", "SLIPWAY_API_TOKEN": ""], nil),
        ]
        for c in cases {
            do {
                _ = try CommandLineParser.parse([], environment: c.env)
                XCTAssertNil(c.refused, "\(c.env.keys.sorted()) accepted")
            } catch {
                guard let variable = c.refused else { XCTFail("\(c.env.keys.sorted()) refused: \(error)"); continue }
                XCTAssertTrue(error.message.contains(variable), error.message)
                let minimum = variable == "SLIPWAY_API_TOKEN" ? "24" : "12"
                XCTAssertTrue(error.message.contains(minimum), error.message)
                for value in c.env.values where !value.isEmpty { XCTAssertFalse(error.message.contains(value), error.message) }
            }
        }
    }
}
