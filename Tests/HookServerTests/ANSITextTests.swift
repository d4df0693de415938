import XCTest
@testable import HookServer

/// Colour codes in logs become spans; every other escape is dropped; the text is escaped.
final class ANSITextTests: XCTestCase {
    func testColoursBecomeSpansAndResetEndsThem() {
        XCTAssertEqual(ANSIText.html("a \u{1B}[1;32mgreen\u{1B}[0m b"), "a <span class=\"ansi-fg-2 ansi-bold\">green</span> b")
        XCTAssertEqual(ANSIText.html("\u{1B}[91mbright\u{1B}[39m plain"), "<span class=\"ansi-fg-9\">bright</span> plain")
        XCTAssertEqual(ANSIText.html("\u{1B}[mplain"), "plain", "no parameter is a reset")
        XCTAssertEqual(ANSIText.html("\u{1B}[38;5;196mred\u{1B}[0m"), "red", "256 colours are skipped, their numbers not read as codes")
        XCTAssertEqual(ANSIText.html("\u{1B}[38;2;1;31;4mx"), "x", "true colour too: 31 and 4 are not red and underline")
    }

    func testOtherEscapesAreDroppedAndTextIsEscaped() {
        XCTAssertEqual(ANSIText.html("\u{1B}[2Kline\u{1B}[1A"), "line", "erase and cursor moves")
        XCTAssertEqual(ANSIText.html("\u{1B}]0;title\u{07}after"), "after", "OSC up to BEL")
        XCTAssertEqual(ANSIText.html("\u{1B}]8;;http://x\u{1B}\\link"), "link", "OSC up to ESC \\")
        XCTAssertEqual(ANSIText.html("\u{1B}(Bx"), "x")
        XCTAssertEqual(ANSIText.html("<b>&\u{1B}[31m\"'</b>"), "&lt;b&gt;&amp;<span class=\"ansi-fg-1\">&quot;&#39;&lt;/b&gt;</span>")
        XCTAssertEqual(ANSIText.html("cut \u{1B}[3"), "cut ", "an escape cut short at the end is dropped")
        XCTAssertFalse(ANSIText.html("\u{1B}[31mred\u{1B}[2J\u{1B}").contains("\u{1B}"))
    }
}
