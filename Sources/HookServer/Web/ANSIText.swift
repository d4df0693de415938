import SlipwaySystem

/// Build and app output as the dashboard shows it: colour codes (ANSI SGR, `ESC[32m` and the like,
/// which Flask's warnings and most build tools print) become spans the stylesheet colours, and
/// every other escape sequence (cursor moves, erasing a line, window titles) is dropped, so no
/// raw escape ever reaches the page. The API's logs keep the bytes as they were.
///
/// The text is HTML-escaped here: the result is markup for a `<pre>`.
enum ANSIText {
    /// The style a run of text is shown in.
    struct Style: Equatable {
        /// 0-7 the normal colours, 8-15 the bright ones; nil the default.
        var foreground: Int?
        var background: Int?
        var bold = false
        var dim = false
        var italic = false
        var underline = false

        var classes: String {
            var names: [String] = []
            if let foreground { names.append("ansi-fg-\(foreground)") }
            if let background { names.append("ansi-bg-\(background)") }
            if bold { names.append("ansi-bold") }
            if dim { names.append("ansi-dim") }
            if italic { names.append("ansi-italic") }
            if underline { names.append("ansi-underline") }
            return names.joined(separator: " ")
        }

        /// Applies one SGR sequence's parameters (`ESC[1;32m` is [1, 32]).
        mutating func apply(_ parameters: [Int]) {
            var index = 0
            let list = parameters.isEmpty ? [0] : parameters
            while index < list.count {
                let p = list[index]
                switch p {
                case 0: self = Style()
                case 1: bold = true
                case 2: dim = true
                case 3: italic = true
                case 4: underline = true
                case 22: bold = false; dim = false
                case 23: italic = false
                case 24: underline = false
                case 30...37: foreground = p - 30
                case 39: foreground = nil
                case 40...47: background = p - 40
                case 49: background = nil
                case 90...97: foreground = p - 90 + 8
                case 100...107: background = p - 100 + 8
                case 38, 48:
                    // 256-colour and true-colour: 5;n or 2;r;g;b. Not shown; skipped whole so
                    // their numbers are not read as other codes.
                    let mode = index + 1 < list.count ? list[index + 1] : 0
                    index += mode == 5 ? 2 : mode == 2 ? 4 : 1
                default: break
                }
                index += 1
            }
        }
    }

    static func html(_ text: String) -> String {
        var out = ""
        var style = Style()
        var run = ""
        func flush() {
            guard !run.isEmpty else { return }
            let escaped = HTML.escape(run)
            let classes = style.classes
            out += classes.isEmpty ? escaped : "<span class=\"\(classes)\">\(escaped)</span>"
            run = ""
        }
        let scalars = Array(text.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            guard c == "\u{1B}" else {
                run.unicodeScalars.append(c)
                i += 1
                continue
            }
            guard i + 1 < scalars.count else { break }
            let next = scalars[i + 1]
            if next == "[" {
                // CSI: parameter bytes 0x30-0x3F, intermediates 0x20-0x2F, a final byte 0x40-0x7E.
                var j = i + 2
                while j < scalars.count, (0x20...0x3F).contains(scalars[j].value) { j += 1 }
                guard j < scalars.count else { break }
                if scalars[j] == "m" {
                    let parameters = String(String.UnicodeScalarView(scalars[(i + 2)..<j])).split(separator: ";", omittingEmptySubsequences: false)
                        .map { Int($0) ?? 0 }
                    flush()
                    style.apply(parameters)
                }
                i = j + 1
            } else if next == "]" {
                // OSC (a window title, a hyperlink's target): up to BEL or ESC \.
                var j = i + 2
                while j < scalars.count, scalars[j] != "\u{07}", !(scalars[j] == "\u{1B}" && j + 1 < scalars.count && scalars[j + 1] == "\\") { j += 1 }
                i = j < scalars.count && scalars[j] == "\u{1B}" ? j + 2 : j + 1
            } else {
                // Any other escape (ECMA-48): ESC, intermediates 0x20-0x2F (`(` in `ESC(B`), a final byte.
                var j = i + 1
                while j < scalars.count, (0x20...0x2F).contains(scalars[j].value) { j += 1 }
                i = j + 1
            }
        }
        flush()
        return out
    }
}
