import Foundation
import XCTest
@testable import SlipwaySystem

/// The helpers replace Foundation calls, so Foundation itself is the oracle: every scalar of the
/// planes where marks, spaces and joiners live is tried next to the texts Slipway works on.
final class StringHelpersTests: XCTestCase {
    /// The BMP, the supplementary plane (emoji modifiers and more marks) and the tag and
    /// variation-selector block; the other planes hold only letters and private use.
    static let scalars: [Unicode.Scalar] = (Array(0...0x1FFFF) + Array(0xE0000...0xE01EF)).compactMap(Unicode.Scalar.init)

    /// The scalars whose neighbours could matter: all but the tens of thousands of plain letters
    /// (CJK, Hangul syllables...), unassigned and private-use ones, of which every 50th is kept.
    static let neighbours: [Unicode.Scalar] = scalars.enumerated().filter { index, s in
        switch s.properties.generalCategory {
        case .otherLetter, .unassigned, .privateUse:
            return index % 50 == 0 || TextSearch.extendsPrevious(s) || (String(s) + "a").count == 1
        default:
            return true
        }
    }.map(\.element)

    func testTrimmingMatchesFoundationForEveryScalar() {
        for s in Self.scalars {
            let text = "\(s)\(s)a\(s)b\(s)"
            XCTAssertEqual(text.trimmingWhitespace(), text.trimmingCharacters(in: .whitespaces), "U+\(String(s.value, radix: 16))")
            XCTAssertEqual(text.trimmingWhitespaceAndNewlines(), text.trimmingCharacters(in: .whitespacesAndNewlines), "U+\(String(s.value, radix: 16))")
        }
    }

    func testTrimmingMatchesFoundationOnTypicalOutput() {
        let texts = ["", " ", "\r\n", "abc", "  abc  ", "\tabc\n", "3f2a9c\n", "running 0 0\n", "\r\nabc\r\n", " \u{301}abc ",
                     "\u{85}a\u{2028}", "\u{A0}a\u{3000}", "\u{B}\u{C}a\u{1680}", "\u{200B}a\u{FEFF}", "ssh-ed25519 AAAA slipway-x\n", "a b"]
        for text in texts {
            XCTAssertEqual(text.trimmingWhitespace(), text.trimmingCharacters(in: .whitespaces), text.debugDescription)
            XCTAssertEqual(text.trimmingWhitespaceAndNewlines(), text.trimmingCharacters(in: .whitespacesAndNewlines), text.debugDescription)
            let sub = text.dropFirst(0)
            XCTAssertEqual(sub.trimmingWhitespace(), sub.trimmingCharacters(in: .whitespaces), text.debugDescription)
        }
    }

    /// Foundation's search is irregular only where a combining mark (or another scalar that
    /// extends a grapheme cluster) directly follows the target: there it refuses some matches and
    /// not others, depending on the target and on what comes before. Everywhere else the helpers
    /// agree with it exactly, which this checks with every kind of scalar around each of our targets.
    func testSearchingMatchesFoundationNextToEveryScalar() {
        for target in ["\n", "'", "..", "no such"] {
            var cases = [String]()
            for s in Self.neighbours {
                cases += ["\(s)x\(target)y\(s)\(target)\(target)", "\(s)\(target)"]
                if !TextSearch.extendsPrevious(s) { cases += ["\(s)\(target)\(s)x\(target)", "x\(target)\(s)"] }
            }
            // Replacing finds every match the way range(of:) finds the first, and batches of
            // cases (split by "|", which joins nothing) take fewer calls into Foundation.
            for batch in stride(from: 0, to: cases.count, by: 512).map({ cases[$0..<min($0 + 512, cases.count)] }) {
                let text = batch.joined(separator: "|")
                guard text.replacingAll(target, with: "<>") != text.replacingOccurrences(of: target, with: "<>") else { continue }
                XCTFail("\(target.debugDescription): a batch differs")
                for one in batch {
                    XCTAssertEqual(one.replacingAll(target, with: "<>"), one.replacingOccurrences(of: target, with: "<>"), one.debugDescription)
                }
            }
        }
    }

    func testFirstOccurrenceAndContainsMatchFoundation() {
        let targets = ["->", "://", "{{", "}}", "..", "@{", "//", " ", "/", ":", ";", "::", "=", "no such", "apps.name", "\n"]
        for s in Self.neighbours.enumerated().filter({ $0.offset % 11 == 0 || $0.element.value < 0x80 }).map(\.element) {
            for target in targets {
                var texts = ["\(s)x\(target)y\(s)", "\(s)\(target)", "x\(s)\(target)", "\(s)\(s)"]
                if !TextSearch.extendsPrevious(s) { texts += ["\(s)\(target)\(s)", "\(target)\(s)x"] }
                for text in texts {
                    let ours = text.firstOccurrence(of: target).map { text.utf8.distance(from: text.startIndex, to: $0.lowerBound) }
                    let theirs = text.range(of: target).map { text.utf8.distance(from: text.startIndex, to: $0.lowerBound) }
                    XCTAssertEqual(ours, theirs, "\(target.debugDescription) by U+\(String(s.value, radix: 16))")
                    XCTAssertEqual(text.hasOccurrence(of: target), text.contains(target))
                    XCTAssertEqual(text.dropFirst(0).hasOccurrence(of: target), text.contains(target))
                }
            }
        }
    }

    func testReplacingMatchesFoundationOnTypicalText() {
        let texts = ["", "a", "\n", "a\nb", "a\r\nb\r\n", "\n\n", "it's", "''", "a'b'c", "\\", "a\\\"b", "\"\"", "2024-01-01 10:00:00",
                     "é\n", "e\u{301}'", "'\u{301}", "x'\u{301}", "\u{600}'", "👍🏽'", "'👍🏽", "line one\nline two\n", "日本語\nテキスト"]
        let replacements = [("\n", " "), ("'", "'\\''"), ("\\", "\\\\"), ("\"", "\\\""), (" ", "T"), ("ab", "x"), ("", "x")]
        for text in texts {
            for (target, replacement) in replacements {
                XCTAssertEqual(text.replacingAll(target, with: replacement), text.replacingOccurrences(of: target, with: replacement),
                               "\(text.debugDescription): \(target.debugDescription)")
            }
        }
    }

    /// Where the standard library's Character-based search would answer otherwise.
    func testSearchFindsWhatTheStandardLibraryWouldMiss() {
        XCTAssertTrue("a\r\nb".hasOccurrence(of: "\n"))
        XCTAssertEqual("a\r\nb".replacingAll("\n", with: " "), "a\r b")
        XCTAssertTrue("main\u{600}..x".hasOccurrence(of: ".."), "a prepended mark does not hide the dots")
        XCTAssertTrue("main\u{600}..x".contains(".."), "nor does it from Foundation")
        XCTAssertFalse("x..\u{301}".hasOccurrence(of: ".."), "an accent right after the match extends it, as in Foundation")
        XCTAssertFalse("abc".hasOccurrence(of: ""))
        XCTAssertNil("abc".firstOccurrence(of: ""))
    }

    func testPaddingMatchesFoundation() {
        let texts = ["", "a", "--port <n>", "--data-dir <path>", String(repeating: "x", count: 28), String(repeating: "y", count: 31),
                     "é", "e\u{301}", "日本語", "👍 thumbs", String(repeating: "a", count: 27) + "👍"]
        for text in texts {
            for length in [0, 1, 10, 28, 40] {
                XCTAssertEqual(text.padded(toLength: length), text.padding(toLength: length, withPad: " ", startingAt: 0),
                               "\(text.debugDescription) to \(length)")
            }
        }
    }
}
