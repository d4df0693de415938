/// How an upstream's response body is delimited (RFC 9112 section 6.3), decided from its head
/// and the request it answers.
public enum ResponseFraming: Equatable, Sendable {
    /// No body: an answer to HEAD, or a 1xx, 204 or 304.
    case none
    case contentLength(Int)
    case chunked
    /// The body ends when the upstream closes the connection.
    case untilClose

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    public static func of(_ head: ResponseHead, requestMethod: String) throws(Invalid) -> ResponseFraming {
        if requestMethod == "HEAD" || head.status < 200 || head.status == 204 || head.status == 304 { return .none }
        let encodings = head.headers.values("Transfer-Encoding")
        if !encodings.isEmpty {
            // Transfer-Encoding overrides Content-Length; a coding list not ending in chunked
            // is delimited by the close (rule 4).
            let last = encodings.last?.split(separator: ",").last?.trimmingSpaces()
            return last.map { $0.caseInsensitiveEquals("chunked") } == true ? .chunked : .untilClose
        }
        let lengths = head.headers.values("Content-Length").flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingSpaces() }
        guard let first = lengths.first else { return .untilClose }
        // Repeated equal values are one length (rule 5); differing or malformed ones are an
        // error, since whichever we chose, the client might choose the other.
        guard lengths.allSatisfy({ $0 == first }), !first.isEmpty, first.utf8.count <= 18,
              first.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(first) else {
            throw Invalid(reason: "invalid Content-Length in the response")
        }
        return .contentLength(n)
    }
}
