import XCTest
@testable import SlipwaySystem

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

    func testRejectsInvalidUTF8WhereverItIs() {
        let cases: [[UInt8]] = [
            [0x22, 0xC3, 0x22],                    // truncated two-byte sequence
            [0x22, 0xC0, 0xAF, 0x22],              // overlong "/"
            [0x22, 0xE0, 0x80, 0xAF, 0x22],        // overlong three-byte
            [0x22, 0xED, 0xA0, 0x80, 0x22],        // UTF-16 surrogate
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
            [0x22, 0xFF, 0x22],
            Array(#"{"repository":{"name":""#.utf8) + [0xC3, 0x28] + Array(#""},"ref":"x"}"#.utf8),
        ]
        for bytes in cases {
            XCTAssertThrowsError(try JSONParser.parse(bytes), "\(bytes)") { error in
                XCTAssertEqual((error as? JSONParser.Error)?.message, "invalid UTF-8", "\(bytes)")
            }
            XCTAssertThrowsError(try JSONParser.parse(bytes, keeping: ["ref"]), "\(bytes)")
        }
        let valid = "a é € 𝄞 \u{10FFFF} and sixteen ascii bytes"
        XCTAssertEqual(try JSONParser.parse(Array("\"\(valid)\"".utf8)).stringValue, valid)
    }

    /// Members not asked for are still checked, so a filtered parse accepts exactly what a full one does.
    func testKeepingOnlySomeTopLevelMembers() throws {
        let text = #"{"ref":"refs/heads/main","repository":{"name":"x\u00e9","n":[1,2.5e3,{"deep":null}]},"after":"abc","head_commit":{"message":"m"}}"#
        let value = try JSONParser.parse(Array(text.utf8), keeping: ["ref", "after", "head_commit"])
        XCTAssertEqual(value["ref"]?.stringValue, "refs/heads/main")
        XCTAssertEqual(value["after"]?.stringValue, "abc")
        XCTAssertEqual(value["head_commit"]?["message"]?.stringValue, "m")
        XCTAssertNil(value["repository"])
        for bad in [#"{"ref":"x","repository":{"a":1,}}"#, #"{"ref":"x","repository":"\q"}"#, #"{"ref":"x","other":[01]}"#,
                    #"{"ref":"x","other":"\ud800"}"#, #"{"ref":"x","other":"a"#, #"{"ref":"x","other":tru}"#] {
            XCTAssertThrowsError(try JSONParser.parse(Array(bad.utf8), keeping: ["ref"]), bad)
            XCTAssertThrowsError(try JSONParser.parse(Array(bad.utf8)), bad)
        }
    }
}
