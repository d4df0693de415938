import Pipeline
import SlipwaySystem

/// A parsed template. Syntax, a small Mustache:
///   {{ name.path }}            value, HTML-escaped
///   {{& name }}                trusted markup (our own SVG icons, never user data)
///   {{#if path}}…{{else}}…{{/if}}   and {{#unless path}}…{{/unless}}
///   {{#each path}}…{{/each}}   the item's fields resolve first, then the outer context; {{.}} is the item
///   {{> partial}}              another template
/// Parsing happens at start-up, so a broken template stops the server before any request.
struct Template: Sendable {
    indirect enum Node: Sendable {
        case text(String)
        case value(path: [String], raw: Bool)
        case conditional(path: [String], negate: Bool, then: [Node], otherwise: [Node])
        case loop(path: [String], body: [Node])
        case partial(String)
    }

    struct ParseError: Error, CustomStringConvertible {
        let template: String
        let message: String
        var description: String { "template \(template): \(message)" }
    }

    let name: String
    let nodes: [Node]

    init(name: String, source: String) throws {
        self.name = name
        var tokens = Self.tokenize(source)
        var stack: [(tag: String, path: [String], negate: Bool, nodes: [Node], otherwise: [Node]?)] = []
        var current: [Node] = []
        while !tokens.isEmpty {
            let token = tokens.removeFirst()
            guard token.isTag else { current.append(.text(token.text)); continue }
            let tag = token.text.trimmingWhitespace()
            if tag.hasPrefix("#if ") || tag.hasPrefix("#unless ") || tag.hasPrefix("#each ") {
                let parts = tag.dropFirst().split(separator: " ", maxSplits: 1)
                guard parts.count == 2 else { throw ParseError(template: name, message: "malformed tag {{\(tag)}}") }
                stack.append((String(parts[0]), Self.path(String(parts[1])), parts[0] == "unless", current, nil))
                current = []
            } else if tag == "else" {
                guard var top = stack.popLast(), top.tag != "each", top.otherwise == nil else {
                    throw ParseError(template: name, message: "{{else}} outside {{#if}}")
                }
                top.otherwise = current
                stack.append(top)
                current = []
            } else if tag.hasPrefix("/") {
                let closing = String(tag.dropFirst())
                guard let top = stack.popLast(), top.tag == closing else {
                    throw ParseError(template: name, message: "unexpected {{\(tag)}}")
                }
                let node: Node
                if top.tag == "each" {
                    node = .loop(path: top.path, body: current)
                } else if let then = top.otherwise {
                    node = .conditional(path: top.path, negate: top.negate, then: then, otherwise: current)
                } else {
                    node = .conditional(path: top.path, negate: top.negate, then: current, otherwise: [])
                }
                current = top.nodes
                current.append(node)
            } else if tag.hasPrefix(">") {
                current.append(.partial(tag.dropFirst().trimmingWhitespace()))
            } else if tag.hasPrefix("&") {
                current.append(.value(path: Self.path(tag.dropFirst().trimmingWhitespace()), raw: true))
            } else {
                guard !tag.isEmpty, !tag.hasOccurrence(of: " ") else { throw ParseError(template: name, message: "malformed tag {{\(tag)}}") }
                current.append(.value(path: Self.path(tag), raw: false))
            }
        }
        if let open = stack.last { throw ParseError(template: name, message: "{{#\(open.tag)}} is never closed") }
        nodes = current
    }

    private static func path(_ text: String) -> [String] {
        text == "." ? ["."] : text.split(separator: ".").map(String.init)
    }

    private struct Token { var text: String; var isTag: Bool }

    private static func tokenize(_ source: String) -> [Token] {
        var tokens = [Token]()
        var rest = Substring(source)
        while let open = rest.firstOccurrence(of: "{{") {
            if open.lowerBound > rest.startIndex { tokens.append(Token(text: String(rest[..<open.lowerBound]), isTag: false)) }
            guard let close = rest[open.upperBound...].firstOccurrence(of: "}}") else {
                tokens.append(Token(text: String(rest[open.lowerBound...]), isTag: false))
                return tokens
            }
            tokens.append(Token(text: String(rest[open.upperBound..<close.lowerBound]), isTag: true))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { tokens.append(Token(text: String(rest), isTag: false)) }
        return tokens
    }
}
