import Foundation
import XCTest
@testable import SlipwaySystem

/// Timestamps against the Foundation code they replace: stored text must not change by a byte.
final class TimestampFormatTests: XCTestCase {
    /// Timestamp.format as it was, with String(format:).
    static func oldFormat(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var t = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                      Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(ms % 1000))
    }

    /// Timestamp.parse's fallback as it was, with ISO8601DateFormatter.
    static func oldParse(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }

    func testFormatIsByteForByteTheOldOne() {
        var generator = SystemRandomNumberGenerator()
        var seconds: [Double] = [0, 0.0005, 0.999, 1, 59.999, 951_782_400.123, 1_709_208_000, 1_795_687_200.5, 4_102_444_799.999,
                                 253_402_300_799.999, -0.001, -1, -86_400.5, -62_167_392_000]
        for _ in 0..<20_000 { seconds.append(Double.random(in: -62_000_000_000...253_000_000_000, using: &generator)) }
        for _ in 0..<5000 { seconds.append(Double.random(in: 1_600_000_000...2_000_000_000, using: &generator)) }
        for s in seconds {
            let date = Date(timeIntervalSince1970: s)
            XCTAssertEqual(Timestamp.format(date), Self.oldFormat(date), "\(s)")
        }
        XCTAssertEqual(Timestamp.now().utf8.count, 24)
    }

    /// Fallback parsing (forms other than our own) gives the old dates for the inputs Slipway
    /// meets: SQLite's CURRENT_TIMESTAMP from the seed, and ISO 8601 with a zone and at most
    /// millisecond fractions.
    func testParseMatchesTheOldParserOnRealisticInputs() {
        let inputs = ["2026-11-26T10:00:00Z", "2026-11-26T10:00:00.5Z", "2026-11-26T10:00:00.25Z", "2024-02-29T23:59:59.999Z",
                      "2026-11-26T10:00:00+02:00", "2026-11-26T10:00:00-05:30", "2026-11-26T10:00:00+0200", "2026-11-26T10:00:00.25+02:00",
                      "1999-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "2026-11-26T10:00:00.000Z", "2026-11-26T10:00:00Z ",
                      "2026-11-26", "2026-11-26 10:00:00", "2026-13-01T00:00:00Z", "2026-11-26T10:00", "", "not a date"]
        for text in inputs {
            XCTAssertEqual(Timestamp.parse(text), Timestamp.parseStored(text) ?? Self.oldParse(text), text)
        }
        for text in ["2024-01-01 10:00:00", "2026-11-26 23:59:59", "1999-12-31 00:00:00", "2026-11-26T10:00:00Z", "2026-11-26T10:00:00.123Z",
                     "2026-11-26 10:00:00.5", "2026-11-26 10:00:00.123", "garbage", ""] {
            func oldParse(_ text: String) -> Date? { Timestamp.parseStored(text) ?? Self.oldParse(text) }
            let old = oldParse(text).map(Self.oldFormat) ?? oldParse(text.replacingOccurrences(of: " ", with: "T") + "Z").map(Self.oldFormat)
            XCTAssertEqual(Timestamp.parseSQLite(text), old, text)
        }
    }
}

final class TimestampTests: XCTestCase {
    func testStoredFormRoundTripsThroughTheFastParser() {
        for seconds in [0.0, 951_782_400.123, 1_795_000_000.999, 4_102_444_799.5] {
            let date = Date(timeIntervalSince1970: seconds)
            let text = Timestamp.format(date)
            XCTAssertEqual(Timestamp.parseStored(text)!.timeIntervalSince1970, (seconds * 1000).rounded(.down) / 1000, accuracy: 0.0005, text)
            XCTAssertEqual(Timestamp.parseStored(text), Timestamp.parse(text))
        }
        XCTAssertNil(Timestamp.parseStored("2026-13-01T00:00:00.000Z"))
        XCTAssertNil(Timestamp.parseStored("2026-11-26 10:00:00"))
        XCTAssertNotNil(Timestamp.parse("2026-11-26T10:00:00Z"), "other ISO forms still parse")
    }
}
