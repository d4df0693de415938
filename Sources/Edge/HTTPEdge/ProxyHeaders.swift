import SlipwayHTTP

/// The headers that cross the edge, both ways, after nginx's proxy module: hop-by-hop headers
/// stay on their own hop, the framing is the edge's own, and the app learns who asked.
enum ProxyHeaders {
    /// RFC 9110 section 7.6.1, and Proxy-Connection and Keep-Alive, which old clients still send.
    /// Transfer-Encoding is the framing of one hop; the edge frames each side itself.
    static let hopByHop = ["Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade"]

    /// Removes the hop-by-hop headers and the ones `Connection` names (Upgrade is kept, and
    /// Connection restored to name it, when the connection is being upgraded).
    static func removeHopByHop(_ headers: inout HTTPHeaders, keepUpgrade: Bool) {
        let listed = headers.values("Connection").flatMap { $0.split(separator: ",") }.map { String($0.trimmingSpaces()) }
        let upgrade = keepUpgrade ? headers.values("Upgrade") : []
        for name in hopByHop + listed where !name.isEmpty { headers.remove(name) }
        if keepUpgrade, !upgrade.isEmpty {
            for value in upgrade { headers.add("Upgrade", value) }
            headers.add("Connection", "Upgrade")
        }
    }

    /// Whether the client asks to switch the connection to another protocol (WebSocket).
    static func wantsUpgrade(_ head: RequestHead) -> Bool {
        head.headers.hasToken("Connection", "upgrade") && head.headers.contains("Upgrade") && !head.isHTTP10
    }

    /// The request as the app receives it: origin-form target, HTTP/1.1, the client's headers
    /// without hop-by-hop ones, the edge's framing and the forwarding headers. Host is the
    /// client's, unchanged (but for an absolute-form target's), so the app sees the name it was asked by.
    static func upstreamRequest(_ head: RequestHead, framing: BodyFraming, clientAddress: String, requestID: String,
                                upgrade: Bool) -> [UInt8] {
        var headers = head.headers
        let sentLength = headers.contains("Content-Length")
        removeHopByHop(&headers, keepUpgrade: upgrade)
        headers.remove("Content-Length")
        // The edge answered the expectation itself (100 Continue) when it first read the body.
        headers.remove("Expect")
        // Appended, never trusted: the app gets the chain the client claimed, then the address
        // the edge saw, which is the only part it can rely on.
        let chain = headers.values("X-Forwarded-For")
        headers.remove("X-Forwarded-For")
        headers.add("X-Forwarded-For", (chain + [clientAddress]).joined(separator: ", "))
        headers.set("X-Forwarded-Proto", "http")
        // The host the request was routed by: an absolute-form target's authority wins over the
        // Host header (RFC 9112 section 3.2.2), and the app, given the origin form, sees it as Host.
        let host = head.requestedHost
        if !host.isEmpty {
            if head.headers["Host"] != host { headers.set("Host", host) }
            headers.set("X-Forwarded-Host", host)
        }
        headers.set("X-Request-Id", requestID)
        switch framing {
        case .contentLength(let n): headers.add("Content-Length", String(n))
        case .chunked: headers.add("Transfer-Encoding", "chunked")
        case .none: if sentLength { headers.add("Content-Length", "0") }
        }
        var text = "\(head.method) \(originForm(head)) HTTP/1.1\r\n"
        for (name, value) in headers.fields { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
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

    /// The answer's head as the client receives it.
    static func clientResponse(_ head: ResponseHead, framing: ResponseFraming, clientFraming: ClientFraming, keepAlive: Bool,
                               http10Client: Bool, requestID: String, upgrade: Bool) -> [UInt8] {
        var headers = head.headers
        removeHopByHop(&headers, keepUpgrade: upgrade)
        switch framing {
        case .none:
            // A HEAD answer's or a 304's length describes the body they stand for; keep it.
            if head.status < 200 || head.status == 204 { headers.remove("Content-Length") }
        case .contentLength(let n):
            headers.set("Content-Length", String(n))
        case .chunked, .untilClose:
            headers.remove("Content-Length")
        }
        if clientFraming == .chunked { headers.add("Transfer-Encoding", "chunked") }
        headers.set("X-Request-Id", requestID)
        if !upgrade {
            if !keepAlive {
                headers.add("Connection", "close")
            } else if http10Client {
                headers.add("Connection", "keep-alive")
            }
        }
        let reason = head.reason.isEmpty ? HTTPStatus.reason(head.status) : head.reason
        var text = "HTTP/1.1 \(head.status) \(reason)\r\n"
        for (name, value) in headers.fields { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// The target as an origin server expects it: an absolute-form target (a client that thinks
    /// it talks to a proxy) becomes its path and query.
    static func originForm(_ head: RequestHead) -> String {
        if head.target.hasPrefix("/") || head.target == "*" { return head.target }
        return head.path + (head.query.map { "?" + $0 } ?? "")
    }
}
