import FoundationEssentials
import SlipwaySystem

/// Loads every template under the templates folder at start-up and renders them by name.
struct TemplateRenderer: Sendable {
    struct MissingTemplate: Error, CustomStringConvertible {
        let name: String
        var description: String { "template \(name) not found" }
    }

    private let templates: [String: Template]
    /// Files served under /static/, read once at start-up.
    let staticFiles: [String: [UInt8]]

    /// The templates every page needs; missing ones stop start-up.
    static let required = ["layout", "login", "dashboard", "deploy", "app", "deployment", "error"]

    init(directory: String) throws {
        var templates = [String: Template]()
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory) else {
            throw MissingTemplate(name: "folder \(directory)")
        }
        for file in names where file.hasSuffix(".html") {
            let source = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            let name = String(file.dropLast(5))
            templates[name] = try Template(name: name, source: source)
        }
        for name in Self.required where templates[name] == nil { throw MissingTemplate(name: name + ".html") }
        // Every partial a template names must exist, so a typo fails now and not on a request.
        for template in templates.values {
            for partial in Self.partials(in: template.nodes) where templates[partial] == nil {
                throw Template.ParseError(template: template.name, message: "includes missing partial \(partial)")
            }
        }
        var files = [String: [UInt8]]()
        let staticDir = directory + "/static"
        for file in (try? fm.contentsOfDirectory(atPath: staticDir)) ?? [] {
            if let data = fm.contents(atPath: staticDir + "/" + file) { files[file] = Array(data) }
        }
        self.templates = templates
        self.staticFiles = files
    }

    init(templates: [String: Template]) {
        self.templates = templates
        self.staticFiles = [:]
    }

    /// Finds Templates/ through --templates-dir, beside the binary, or in the working directory.
    static func locate(configured: String?) -> String {
        if let configured { return configured }
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        var dir = binary
        // .build/debug/slipway → the package root's Templates when run from a checkout.
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("Templates").path
            if FileManager.default.fileExists(atPath: candidate + "/layout.html") { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath + "/Templates"
    }

    func render(_ name: String, _ context: TemplateValue) throws -> String {
        guard let template = templates[name] else { throw MissingTemplate(name: name) }
        var out = ""
        try render(template.nodes, scopes: [context], into: &out, depth: 0)
        return out
    }

    /// Renders `name` inside the layout, which places it with {{& content}}.
    func page(_ name: String, _ context: TemplateValue) throws -> String {
        let body = try render(name, context)
        guard case .object(var fields) = context else { return body }
        fields["content"] = .safe(body)
        return try render("layout", .object(fields))
    }

    private func render(_ nodes: [Template.Node], scopes: [TemplateValue], into out: inout String, depth: Int) throws {
        guard depth < 16 else { throw Template.ParseError(template: "?", message: "partials nested too deeply") }
        for node in nodes {
            switch node {
            case .text(let text):
                out += text
            case .value(let path, let raw):
                guard let value = lookup(path, scopes) else { continue }
                switch value {
                case .string(let s): out += raw ? s : HTML.escape(s)
                case .safe(let s): out += s
                case .bool(let b): out += b ? "true" : "false"
                case .list, .object: break
                }
            case .conditional(let path, let negate, let then, let otherwise):
                let truthy = lookup(path, scopes)?.isTruthy ?? false
                try render(truthy != negate ? then : otherwise, scopes: scopes, into: &out, depth: depth)
            case .loop(let path, let body):
                guard case .list(let items)? = lookup(path, scopes) else { continue }
                for item in items { try render(body, scopes: scopes + [item], into: &out, depth: depth) }
            case .partial(let name):
                guard let template = templates[name] else { throw MissingTemplate(name: name) }
                try render(template.nodes, scopes: scopes, into: &out, depth: depth + 1)
            }
        }
    }

    private func lookup(_ path: [String], _ scopes: [TemplateValue]) -> TemplateValue? {
        if path == ["."] { return scopes.last }
        for scope in scopes.reversed() {
            guard var value = scope[path[0]] else { continue }
            for key in path.dropFirst() {
                guard let next = value[key] else { return nil }
                value = next
            }
            return value
        }
        return nil
    }

    private static func partials(in nodes: [Template.Node]) -> [String] {
        nodes.flatMap { node -> [String] in
            switch node {
            case .partial(let name): return [name]
            case .conditional(_, _, let a, let b): return partials(in: a) + partials(in: b)
            case .loop(_, let body): return partials(in: body)
            default: return []
            }
        }
    }
}
