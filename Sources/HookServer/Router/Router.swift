import SlipwayHTTP

/// A handler for one route. Handlers run on the connection's own thread, so they may block.
typealias Handler = @Sendable (HTTPRequest) throws -> HTTPResponse
/// Looks at a request (head, path parameters, client address; its body not read yet, so empty)
/// before a byte of its body is read; throws (an HTTPResponseError) to refuse it, and then the
/// body is never read. What it returns reaches the handler as the request's `context`.
typealias HeadCheck = @Sendable (HTTPRequest) throws -> (any Sendable)?

/// Method + path pattern routing with {parameters}, 404 and 405 with Allow.
struct Router: Sendable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    struct Route: Sendable {
        let method: String
        let segments: [Segment]
        /// Overrides the server's default body limit (the webhook route needs 25 MiB).
        let bodyLimit: Int?
        /// Run before the body is read, so a request that will be refused costs no body.
        let headCheck: HeadCheck?
        let handler: Handler
    }

    enum Resolution {
        case matched(Route, parameters: [String: String])
        case methodNotAllowed(allow: [String])
        case notFound
        case badPath
    }

    private(set) var routes: [Route] = []
    /// Path prefixes whose errors are JSON (the API, the webhooks); every other path answers text.
    private var jsonErrorPrefixes: [String] = []

    mutating func add(_ method: String, _ pattern: String, bodyLimit: Int? = nil, headCheck: HeadCheck? = nil, _ handler: @escaping Handler) {
        let segments = Self.split(pattern).map { part -> Segment in
            if part.hasPrefix("{") && part.hasSuffix("}") { return .parameter(String(part.dropFirst().dropLast())) }
            return .literal(String(part))
        }
        routes.append(Route(method: method, segments: segments, bodyLimit: bodyLimit, headCheck: headCheck, handler: handler))
    }

    mutating func get(_ pattern: String, _ handler: @escaping Handler) { add("GET", pattern, handler) }
    mutating func post(_ pattern: String, bodyLimit: Int? = nil, headCheck: HeadCheck? = nil, _ handler: @escaping Handler) {
        add("POST", pattern, bodyLimit: bodyLimit, headCheck: headCheck, handler)
    }
    mutating func patch(_ pattern: String, _ handler: @escaping Handler) { add("PATCH", pattern, handler) }
    mutating func put(_ pattern: String, _ handler: @escaping Handler) { add("PUT", pattern, handler) }
    mutating func delete(_ pattern: String, _ handler: @escaping Handler) { add("DELETE", pattern, handler) }

    /// Errors for `prefix` and every path below it are written as JSON.
    mutating func answerErrorsAsJSON(under prefix: String) {
        jsonErrorPrefixes.append(prefix)
    }

    /// How errors for `path` are written, whether or not a route matches it: a request that
    /// never reached a handler (404, 405, a malformed body, a timeout) gets the same shape.
    func errorFormat(for path: String) -> ErrorFormat {
        for prefix in jsonErrorPrefixes where path == prefix || path.hasPrefix(prefix + "/") { return .json }
        return .text
    }

    func resolve(method: String, path: String) -> Resolution {
        var parts = [String]()
        for raw in Self.split(path) {
            // Segments are matched decoded, so /api/apps/my%2Dapp finds my-app; a bad escape is a 400.
            guard let decoded = FormDecoding.percentDecode(String(raw)) else { return .badPath }
            parts.append(decoded)
        }
        var allowed = [String]()
        for route in routes {
            guard let parameters = match(route.segments, parts) else { continue }
            if route.method == method || (method == "HEAD" && route.method == "GET") {
                return .matched(route, parameters: parameters)
            }
            allowed.append(route.method)
            if route.method == "GET" { allowed.append("HEAD") }
        }
        if allowed.isEmpty { return .notFound }
        var unique = [String]()
        for m in allowed where !unique.contains(m) { unique.append(m) }
        return .methodNotAllowed(allow: unique)
    }

    private func match(_ segments: [Segment], _ parts: [String]) -> [String: String]? {
        guard segments.count == parts.count else { return nil }
        var parameters = [String: String]()
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let text): if text != part { return nil }
            case .parameter(let name):
                if part.isEmpty { return nil }
                parameters[name] = part
            }
        }
        return parameters
    }

    private static func split(_ path: String) -> [Substring] {
        // "/a/b/" and "/a/b" are the same route; "/" is the root with no segments.
        var trimmed = Substring(path)
        while trimmed.hasPrefix("/") { trimmed = trimmed.dropFirst() }
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        if trimmed.isEmpty { return [] }
        return trimmed.split(separator: "/", omittingEmptySubsequences: false)
    }
}
