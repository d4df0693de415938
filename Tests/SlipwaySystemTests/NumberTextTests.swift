import Foundation
import XCTest
@testable import SlipwaySystem

/// Old output (Foundation's String(format:)) against new, for the formats Slipway writes.
final class NumberTextTests: XCTestCase {
    func testZeroPaddingMatchesPrintf() {
        for width in [2, 3, 4] {
            for value in Array(-1200...1200) + [9999, 10_000, 123_456, -99_999, Int(Int32.max), Int(Int32.min) + 1] {
                XCTAssertEqual(String(value, zeroPaddedTo: width), String(format: "%0\(width)d", value), "\(value) width \(width)")
            }
        }
    }

    func testFixedPointMatchesPrintf() {
        // Every duration the deployment pages show with one decimal, and the halfway cases around them.
        for ms in 0..<120_000 {
            let seconds = Double(ms) / 1000
            XCTAssertEqual(String(seconds, fractionDigits: 1), String(format: "%.1f", seconds), "\(ms) ms")
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let value = Double.random(in: -1e9...1e9, using: &generator)
            for digits in 0...3 {
                XCTAssertEqual(String(value, fractionDigits: digits), String(format: "%.\(digits)f", value))
            }
        }
        for value in [0.05, 0.15, 0.25, 0.35, 1.25, 2.5, -0.0, 1e300, -1e-300, .infinity, -.infinity, .nan] {
            XCTAssertEqual(String(value, fractionDigits: 1), String(format: "%.1f", value), "\(value)")
        }
    }
}
