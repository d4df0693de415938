/// The parsed request line and headers.
struct RequestHead: Sendable {
    var method: String
    /// The request-target as sent.
    var target: String
    /// The path part of the target, still percent-encoded.
    var path: String
    var query: String?
    var versionMinor: Int
    var headers: HTTPHeaders

    var isHTTP10: Bool { versionMinor == 0 }

    /// Whether the client wants the connection kept open after this exchange (RFC 9112 section 9.3).
    var wantsKeepAlive: Bool {
        if headers.hasToken("Connection", "close") { return false }
        return isHTTP10 ? headers.hasToken("Connection", "keep-alive") : true
    }
}

/// A complete request, as handlers see it.
struct HTTPRequest: Sendable {
    var head: RequestHead
    var body: [UInt8]
    var parameters: [String: String] = [:]
    var remoteAddress: String

    var method: String { head.method }
    var path: String { head.path }
    var headers: HTTPHeaders { head.headers }

    /// Decoded query parameters; the last value wins.
    var query: [String: String] {
        guard let q = head.query else { return [:] }
        return FormDecoding.decode(q)
    }

    func parameter(_ name: String) -> String { parameters[name] ?? "" }
}
