/// The string operations Slipway took from Foundation, which FoundationEssentials leaves out,
/// with Foundation's results (StringHelpersTests holds them against Foundation itself).
///
/// Searching follows Foundation, not the standard library: Foundation matches the target's
/// Unicode scalars, so it finds "\n" inside "\r\n" and ":" after a prepended mark, where the
/// standard library's Character-based `contains` finds neither; both refuse a match that a
/// combining mark right after it would extend.
extension StringProtocol {
    /// Foundation's `trimmingCharacters(in: .whitespaces)`.
    public func trimmingWhitespace() -> String {
        trimmingScalars(where: TextSearch.isWhitespace)
    }

    /// Foundation's `trimmingCharacters(in: .whitespacesAndNewlines)`.
    public func trimmingWhitespaceAndNewlines() -> String {
        trimmingScalars { TextSearch.isWhitespace($0) || TextSearch.isNewline($0) }
    }

    /// Foundation's `contains(_:)` with a string.
    public func hasOccurrence(of target: String) -> Bool {
        firstOccurrence(of: target) != nil
    }

    /// Foundation's `range(of:)`.
    public func firstOccurrence(of target: String) -> Range<Index>? {
        let needle = Array(target.unicodeScalars)
        let scalars = unicodeScalars
        guard let first = needle.first, scalars.contains(first),
              let start = TextSearch.next(needle, in: Array(scalars), from: 0) else { return nil }
        let lower = scalars.index(scalars.startIndex, offsetBy: start)
        return lower..<scalars.index(lower, offsetBy: needle.count)
    }

    /// Foundation's `replacingOccurrences(of:with:)`.
    public func replacingAll(_ target: String, with replacement: String) -> String {
        let needle = Array(target.unicodeScalars)
        guard let first = needle.first, unicodeScalars.contains(first) else { return String(self) }
        let hay = Array(unicodeScalars)
        var out = String.UnicodeScalarView()
        var copied = 0
        while let start = TextSearch.next(needle, in: hay, from: copied) {
            out.append(contentsOf: hay[copied..<start])
            out.append(contentsOf: replacement.unicodeScalars)
            copied = start + needle.count
        }
        out.append(contentsOf: hay[copied...])
        return String(out)
    }

    /// Foundation's `padding(toLength:withPad: " ", startingAt: 0)`: spaces up to `length` UTF-16
    /// units, or cut to that many.
    public func padded(toLength length: Int) -> String {
        let units = utf16.count
        if units >= length { return String(decoding: Array(utf16.prefix(length)), as: UTF16.self) }
        return String(self) + String(repeating: " ", count: length - units)
    }

    private func trimmingScalars(where isTrimmed: (Unicode.Scalar) -> Bool) -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !isTrimmed($0) }),
              let last = scalars.lastIndex(where: { !isTrimmed($0) }) else { return "" }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars[start...last])
        return String(out)
    }
}

enum TextSearch {
    /// Where `needle` next occurs in `hay`, at `from` or later, as Foundation's search finds it.
    static func next(_ needle: [Unicode.Scalar], in hay: [Unicode.Scalar], from: Int) -> Int? {
        guard let first = needle.first else { return nil }
        var i = from
        while i + needle.count <= hay.count {
            let end = i + needle.count
            if hay[i] == first, hay[i..<end].elementsEqual(needle), end == hay.count || !extendsPrevious(hay[end]) { return i }
            i += 1
        }
        return nil
    }

    /// Whether `s` continues the grapheme cluster before it (combining marks, ZWJ, emoji
    /// modifiers...). No ASCII scalar does, which spares the common case the check.
    static func extendsPrevious(_ s: Unicode.Scalar) -> Bool {
        !s.isASCII && ("a" + String(s)).count == 1
    }

    /// Foundation's (CoreFoundation's) whitespace, which is not quite Unicode's: it has U+200B
    /// ZERO WIDTH SPACE, and tab but no other control.
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09, 0x20, 0xA0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    static func isNewline(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x0A...0x0D, 0x85, 0x2028, 0x2029: return true
        default: return false
        }
    }
}
