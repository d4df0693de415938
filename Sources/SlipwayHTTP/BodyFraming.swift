/// How the request body is delimited (RFC 9112 section 6.3), decided from the head alone.
public enum BodyFraming: Equatable {
    case none
    case contentLength(Int)
    case chunked

    public static func of(_ head: RequestHead) throws(HTTPError) -> BodyFraming {
        let hosts = head.headers.values("Host")
        if !head.isHTTP10 && hosts.isEmpty { throw .framing(400, "missing Host header") }
        if hosts.count > 1 { throw .framing(400, "more than one Host header") }

        let lengths = head.headers.values("Content-Length")
        let encodings = head.headers.values("Transfer-Encoding")
        if !lengths.isEmpty && !encodings.isEmpty {
            // Both at once is the classic request-smuggling setup; refuse it outright.
            throw .framing(400, "both Content-Length and Transfer-Encoding")
        }
        if !encodings.isEmpty {
            if head.isHTTP10 { throw .framing(400, "Transfer-Encoding in an HTTP/1.0 request") }
            let codings = encodings.flatMap { $0.split(separator: ",") }.map { $0.trimmingSpaces().lowercased() }
            guard codings.last == "chunked" else {
                if codings.contains(where: { $0 != "chunked" && $0 != "" }) {
                    throw .framing(501, "unsupported transfer coding")
                }
                throw .framing(400, "malformed Transfer-Encoding")
            }
            guard codings.count == 1 else {
                // chunked must be applied once, and we decode no other coding.
                if codings.dropLast().allSatisfy({ $0 == "chunked" }) { throw .framing(400, "chunked applied more than once") }
                throw .framing(501, "unsupported transfer coding")
            }
            return .chunked
        }
        if lengths.count > 1 { throw .framing(400, "duplicate Content-Length") }
        if let text = lengths.first {
            guard !text.isEmpty, text.utf8.count <= 15, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(text) else {
                throw .framing(400, "invalid Content-Length")
            }
            return n == 0 ? .none : .contentLength(n)
        }
        return .none
    }
}
