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
