/// Turns a response into HTTP/1.1 bytes (RFC 9112): a pure function of the response, the request
/// it answers and the time, so every framing rule is unit-tested without a socket.
public enum ResponseEncoder {
    /// What the connection writes: the head (with the body when it is known), then, for a
    /// streamed body, what the producer writes, framed as `chunked` says.
    public struct Encoded {
        public var bytes: [UInt8]
        public var stream: (@Sendable (ResponseBodyWriter) throws -> Void)?
        /// Stream pieces go out as chunks; false on HTTP/1.0, where the close ends the body.
        public var chunked: Bool
        /// Whether the connection may carry another request after this response.
        public var keepAlive: Bool
    }

    /// What the response answers: nil for an answer to bytes that never made a request
    /// (a malformed head, a timeout), which is then treated as HTTP/1.1 and not HEAD.
    public struct Request: Sendable {
        public var method: String
        public var isHTTP10: Bool

        public init(method: String, isHTTP10: Bool) {
            self.method = method
            self.isHTTP10 = isHTTP10
        }

        public init(_ head: RequestHead) {
            self.init(method: head.method, isHTTP10: head.isHTTP10)
        }
    }

    public static let lastChunk = Array("0\r\n\r\n".utf8)

    /// `keepAlive` is what the connection would like; a body that only a close can end
    /// (a stream to an HTTP/1.0 client) overrules it.
    public static func encode(_ response: HTTPResponse, for request: Request?, keepAlive: Bool, date: String) -> Encoded {
        var headers = response.headers
        var keepAlive = keepAlive
        let isHead = request?.method == "HEAD"
        let isHTTP10 = request?.isHTTP10 ?? false
        headers.set("Date", date)
        if !headers.contains("X-Content-Type-Options") { headers.add("X-Content-Type-Options", "nosniff") }

        var body: [UInt8] = []
        var stream: (@Sendable (ResponseBodyWriter) throws -> Void)?
        // RFC 9110 section 6.4.1: 1xx, 204 and 304 never carry content, nor its length.
        let noBody = response.status == 204 || response.status == 304 || response.status < 200
        switch response.body {
        case .bytes(let bytes):
            body = bytes
            if !noBody { headers.set("Content-Length", String(bytes.count)) }
        case .deferred:
            // The responder turns a deferred response into a real one before it is written.
            break
        case .stream(let producer):
            stream = producer
            if isHTTP10 {
                // HTTP/1.0 has no chunked coding: the end of the body is the close.
                keepAlive = false
            } else {
                headers.set("Transfer-Encoding", "chunked")
            }
        }
        if !keepAlive {
            headers.set("Connection", "close")
        } else if isHTTP10 {
            headers.set("Connection", "keep-alive")
        }

        var head = "HTTP/1.1 \(response.status) \(HTTPStatus.reason(response.status))\r\n"
        for (name, value) in headers.fields { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        // A HEAD answer says how long the body would be, and sends none.
        if !isHead && !noBody { bytes.append(contentsOf: body) }
        return Encoded(bytes: bytes, stream: isHead ? nil : stream, chunked: !isHTTP10, keepAlive: keepAlive)
    }

    /// One piece of a streamed body in the chunked coding (RFC 9112 section 7.1); empty for
    /// an empty piece, which would otherwise read as the last chunk.
    public static func chunk(_ bytes: [UInt8]) -> [UInt8] {
        guard !bytes.isEmpty else { return [] }
        return Array((String(bytes.count, radix: 16) + "\r\n").utf8) + bytes + [0x0d, 0x0a]
    }
}
