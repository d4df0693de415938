import SlipwayHTTP

/// The headers that cross the edge, both ways, after nginx's proxy module: hop-by-hop headers
/// stay on their own hop, the framing is the edge's own, and the app learns who asked.
enum ProxyHeaders {
    /// RFC 9110 section 7.6.1, and Proxy-Connection and Keep-Alive, which old clients still send.
    /// Transfer-Encoding is the framing of one hop; the edge frames each side itself.
    static let hopByHop = ["Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade"]

    /// Whether `name` stays on its own hop: one of `hopByHop`, or a name the message's
    /// `Connection` header lists (`listed`, usually empty).
    static func isHopByHop(_ name: String, listed: [Substring]) -> Bool {
        hopByHop.contains { $0.caseInsensitiveEquals(name) } || listed.contains { $0.caseInsensitiveEquals(name) }
    }

    /// The names a message's `Connection` header lists, which are hop-by-hop for that message.
    static func connectionListed(_ headers: HTTPHeaders) -> [Substring] {
        var listed: [Substring] = []
        for field in headers.fields where field.name.caseInsensitiveEquals("Connection") {
            for token in field.value.split(separator: ",") {
                let name = token.trimmingSpaces()
                if !name.isEmpty { listed.append(name) }
            }
        }
        return listed
    }

    /// Whether the client asks to switch the connection to another protocol (WebSocket).
    static func wantsUpgrade(_ head: RequestHead) -> Bool {
        head.headers.hasToken("Connection", "upgrade") && head.headers.contains("Upgrade") && !head.isHTTP10
    }

    /// The request as the app receives it: origin-form target, HTTP/1.1, the client's headers
    /// without hop-by-hop ones, the edge's framing and the forwarding headers. Host is the
    /// client's, unchanged (but for an absolute-form target's), so the app sees the name it was asked by.
    ///
    /// Written in one pass over the client's fields straight into bytes: per request, the
    /// copies, removals and string building of a header list cost more than the syscalls around
    /// them (perf, keep-alive benchmark).
    static func upstreamRequest(_ head: RequestHead, framing: BodyFraming, clientAddress: String, requestID: String,
                                upgrade: Bool, proto: String = "http") -> [UInt8] {
        var out = HeadBytes(capacity: 256 + head.target.utf8.count + 64 * head.headers.fields.count)
        out.append(head.method)
        out.append(" ")
        out.append(originForm(head))
        out.append(" HTTP/1.1\r\n")
        let listed = connectionListed(head.headers)
        // The host the request was routed by: an absolute-form target's authority wins over the
        // Host header (RFC 9112 section 3.2.2), and the app, given the origin form, sees it as Host.
        let host = head.requestedHost
        let replacesHost = !host.isEmpty && head.headers["Host"] != host
        var sentLength = false
        var chain: [String] = []
        for field in head.headers.fields {
            let name = field.name
            if name.caseInsensitiveEquals("Content-Length") {
                sentLength = true
                continue
            }
            if isHopByHop(name, listed: listed) { continue }
            // Appended, never trusted: the app gets the chain the client claimed, then the
            // address the edge saw, which is the only part it can rely on.
            if name.caseInsensitiveEquals("X-Forwarded-For") {
                chain.append(field.value)
                continue
            }
            // The edge's own, below; Expect the edge answered itself (100 Continue) when it first
            // read the body.
            if name.caseInsensitiveEquals("X-Forwarded-Proto") || name.caseInsensitiveEquals("X-Forwarded-Host")
                || name.caseInsensitiveEquals("X-Request-Id") || name.caseInsensitiveEquals("Expect") { continue }
            if replacesHost && name.caseInsensitiveEquals("Host") { continue }
            out.field(name, field.value)
        }
        if upgrade { appendUpgrade(head.headers, to: &out) }
        chain.append(clientAddress)
        out.field("X-Forwarded-For", chain.joined(separator: ", "))
        out.field("X-Forwarded-Proto", proto)
        if !host.isEmpty {
            if replacesHost { out.field("Host", host) }
            out.field("X-Forwarded-Host", host)
        }
        out.field("X-Request-Id", requestID)
        switch framing {
        case .contentLength(let n): out.field("Content-Length", String(n))
        case .chunked: out.field("Transfer-Encoding", "chunked")
        case .none: if sentLength { out.field("Content-Length", "0") }
        }
        out.append("\r\n")
        return out.bytes
    }

    /// An upgrade goes on: the Upgrade values the message had, and a Connection naming it.
    private static func appendUpgrade(_ headers: HTTPHeaders, to out: inout HeadBytes) {
        let values = headers.values("Upgrade")
        guard !values.isEmpty else { return }
        for value in values { out.field("Upgrade", value) }
        out.field("Connection", "Upgrade")
    }

    /// How the edge frames the app's answer to the client.
    enum ClientFraming: Equatable {
        /// No body, or one whose length is known: the headers say so as the app sent them.
        case asIs
        /// Re-framed as chunks (a chunked body, or one that ends with the app's close).
        case chunked
        /// The body ends with the close: an HTTP/1.0 client cannot read chunks.
        case untilClose
    }

    /// The answer's head as the client receives it, written in one pass as the request's is.
    static func clientResponse(_ head: ResponseHead, framing: ResponseFraming, clientFraming: ClientFraming, keepAlive: Bool,
                               http10Client: Bool, requestID: String, upgrade: Bool, hsts: Bool = false) -> [UInt8] {
        var out = HeadBytes(capacity: 256 + 64 * head.headers.fields.count)
        let reason = head.reason.isEmpty ? HTTPStatus.reason(head.status) : head.reason
        out.append("HTTP/1.1 ")
        out.append(String(head.status))
        out.append(" ")
        out.append(reason)
        out.append("\r\n")
        // What the edge frames itself replaces the app's length; a HEAD answer's or a 304's length
        // describes the body they stand for, so it is kept.
        let keepsLength: Bool
        switch framing {
        case .none: keepsLength = !(head.status < 200 || head.status == 204)
        case .contentLength, .chunked, .untilClose: keepsLength = false
        }
        let listed = connectionListed(head.headers)
        for field in head.headers.fields {
            let name = field.name
            if isHopByHop(name, listed: listed) || name.caseInsensitiveEquals("X-Request-Id") { continue }
            if !keepsLength && name.caseInsensitiveEquals("Content-Length") { continue }
            // The edge's own policy replaces the app's when the app asked for it.
            if hsts && name.caseInsensitiveEquals("Strict-Transport-Security") { continue }
            out.field(name, field.value)
        }
        if hsts { out.field("Strict-Transport-Security", Self.hstsValue) }
        if upgrade { appendUpgrade(head.headers, to: &out) }
        if case .contentLength(let n) = framing { out.field("Content-Length", String(n)) }
        if clientFraming == .chunked { out.field("Transfer-Encoding", "chunked") }
        out.field("X-Request-Id", requestID)
        if !upgrade {
            if !keepAlive {
                out.field("Connection", "close")
            } else if http10Client {
                out.field("Connection", "keep-alive")
            }
        }
        out.append("\r\n")
        return out.bytes
    }

    /// HSTS for an app that opted in, on its HTTPS answers: a year, as Caddy and most guides set
    /// it; no includeSubDomains, since a domain's other names may be another app's or nobody's.
    static let hstsValue = "max-age=31536000"

    /// The target as an origin server expects it: an absolute-form target (a client that thinks
    /// it talks to a proxy) becomes its path and query.
    static func originForm(_ head: RequestHead) -> String {
        if head.target.hasPrefix("/") || head.target == "*" { return head.target }
        return head.path + (head.query.map { "?" + $0 } ?? "")
    }
}
