/// Text made safe for HTML, shared by the dashboard's templates and the edge's own pages.
public enum HTML {
    /// Escapes the five characters that matter in text and in quoted attributes.
    public static func escape(_ text: String) -> String {
        // Most values need nothing escaped: return them untouched rather than rebuild them.
        guard text.utf8.contains(where: { $0 == 0x26 || $0 == 0x3c || $0 == 0x3e || $0 == 0x22 || $0 == 0x27 }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// Only http(s) URLs become links; anything else (javascript:, data:) is shown as text.
    public static func isLinkable(_ url: String) -> Bool {
        let lower = url.lowercased()
        return (lower.hasPrefix("http://") || lower.hasPrefix("https://")) && !url.contains(where: { $0.isWhitespace })
    }
}
