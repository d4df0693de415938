/// What templates see: strings are escaped when written, `safe` is trusted markup of our own.
enum TemplateValue: Sendable {
    case string(String)
    case safe(String)
    case bool(Bool)
    case list([TemplateValue])
    case object([String: TemplateValue])

    var isTruthy: Bool {
        switch self {
        case .string(let s): return !s.isEmpty
        case .safe(let s): return !s.isEmpty
        case .bool(let b): return b
        case .list(let l): return !l.isEmpty
        case .object: return true
        }
    }

    subscript(key: String) -> TemplateValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral {
    init(stringLiteral value: String) { self = .string(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(dictionaryLiteral elements: (String, TemplateValue)...) { self = .object(Dictionary(elements, uniquingKeysWith: { $1 })) }
    init(arrayLiteral elements: TemplateValue...) { self = .list(elements) }
}

enum HTML {
    /// Escapes the five characters that matter in text and in quoted attributes.
    static func escape(_ text: String) -> String {
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
    static func isLinkable(_ url: String) -> Bool {
        let lower = url.lowercased()
        return (lower.hasPrefix("http://") || lower.hasPrefix("https://")) && !url.contains(where: { $0.isWhitespace })
    }
}
