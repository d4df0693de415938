import XCTest
@testable import SlipwaySystem

final class ByteSizeTests: XCTestCase {
    func testSizesAreBytesOrANumberWithASuffix() {
        let cases: [(String, Int?)] = [
            ("1", 1), ("1000", 1000), ("0", 0), ("512k", 512 << 10), ("10m", 10 << 20), ("10M", 10 << 20), ("2g", 2 << 30),
            ("64G", 64 << 30), ("007", 7),
            ("", nil), ("k", nil), ("12x", nil), ("-5m", nil), ("+5", nil), ("1.5m", nil), (" 5", nil), ("5 m", nil),
            ("10mb", nil), ("1t", nil), ("٣", nil),
            // Past an Int: refused, not trapped on.
            ("9223372036854775807", nil), ("99999999999g", nil), ("8589934592g", nil), ("8589934591g", 8_589_934_591 << 30),
        ]
        for (text, bytes) in cases { XCTAssertEqual(ByteSize.parse(text), bytes, text) }
    }

    func testTextIsTheShortestFormParseReadsBack() {
        let cases: [(Int, String)] = [(1, "1"), (1000, "1000"), (1024, "1k"), (1536, "1536"), (10 << 20, "10m"),
                                      (3 << 29, "1536m"), (64 << 30, "64g"), (0, "0")]
        for (bytes, text) in cases {
            XCTAssertEqual(ByteSize.text(bytes), text, "\(bytes)")
            XCTAssertEqual(ByteSize.parse(text), bytes, text)
        }
    }
}
