/// The parsed request line and headers.
public struct RequestHead: Sendable {
    public var method: String
    /// The request-target as sent.
    public var target: String
    /// The path part of the target, still percent-encoded.
    public var path: String
    public var query: String?
    public var versionMinor: Int
    public var headers: HTTPHeaders

    public init(method: String, target: String, path: String, query: String?, versionMinor: Int, headers: HTTPHeaders) {
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.versionMinor = versionMinor
        self.headers = headers
    }

    public var isHTTP10: Bool { versionMinor == 0 }

    /// The host a request is for: the authority of an absolute-form target (`GET http://a.example/`),
    /// which RFC 9112 section 3.2.2 says wins over the Host header, else the Host header.
    public var requestedHost: String {
        if !target.hasPrefix("/"), let schemeEnd = target.utf8.firstRange(of: "://".utf8) {
            let rest = target[schemeEnd.upperBound...]
            let authority = rest[..<(rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex)]
            // Userinfo has no place in an http URI (RFC 9110 section 4.2.4); what follows it is the host.
            return String(authority.split(separator: "@", omittingEmptySubsequences: false).last ?? authority)
        }
        return headers["Host"] ?? ""
    }

    /// Whether the client wants the connection kept open after this exchange (RFC 9112 section 9.3).
    public var wantsKeepAlive: Bool {
        if headers.hasToken("Connection", "close") { return false }
        return isHTTP10 ? headers.hasToken("Connection", "keep-alive") : true
    }
}

/// A complete request, as handlers see it.
public struct HTTPRequest: Sendable {
    public var head: RequestHead
    public var body: [UInt8]
    public var parameters: [String: String] = [:]
    public var remoteAddress: String
    /// What the route's check of the head learned (the webhook's app), for its handler.
    public var context: (any Sendable)?

    public init(head: RequestHead, body: [UInt8], parameters: [String: String] = [:], remoteAddress: String) {
        self.head = head
        self.body = body
        self.parameters = parameters
        self.remoteAddress = remoteAddress
    }

    public var method: String { head.method }
    public var path: String { head.path }
    public var headers: HTTPHeaders { head.headers }

    /// Decoded query parameters; the last value wins.
    public var query: [String: String] {
        guard let q = head.query else { return [:] }
        return FormDecoding.decode(q)
    }

    public func parameter(_ name: String) -> String { parameters[name] ?? "" }
}
