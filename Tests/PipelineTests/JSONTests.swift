import XCTest
@testable import Pipeline

final class JSONTests: XCTestCase {
    func testRoundTrip() throws {
        let text = #"{"a":1,"b":[true,false,null],"c":"x\"y\u00e9","d":-1.5}"#
        let value = try JSONParser.parse(text)
        XCTAssertEqual(value["a"], .number(1))
        XCTAssertEqual(value["b"], .array([.bool(true), .bool(false), .null]))
        XCTAssertEqual(value["c"]?.stringValue, "x\"yé")
        XCTAssertEqual(value.serialized(), #"{"a":1,"b":[true,false,null],"c":"x\"yé","d":-1.5}"#)
    }

    func testDistinguishesBoolFromNumber() throws {
        XCTAssertNil(try JSONParser.parse("true").intValue)
        XCTAssertNil(try JSONParser.parse("1").boolValue)
    }

    func testRejectsMalformed() {
        for text in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"\u{01}\"", "nul", "[1] x", "\"\\ud800\"", String(repeating: "[", count: 100) + String(repeating: "]", count: 100)] {
            XCTAssertThrowsError(try JSONParser.parse(text), text)
        }
    }

    func testEscapesHTMLSignificantCharacters() {
        XCTAssertEqual(JSON.string("</script>").serialized(), #""\u003c/script\u003e""#)
    }
}
