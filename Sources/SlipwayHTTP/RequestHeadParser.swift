/// Parses a request line and header block out of the bytes received so far (RFC 9112).
/// It is a pure function of the buffer, so it is tested by feeding bytes in.
public enum RequestHeadParser {
    public enum Result: Equatable {
        case incomplete
        case complete(consumed: Int)
        case failed(HTTPError)
    }

    /// Locates the end of the head and checks the size limits as bytes arrive, so an over-long
    /// line is refused before it is complete.
    public static func scan(_ buffer: ArraySlice<UInt8>, limits: HTTPLimits) -> Result {
        var i = buffer.startIndex
        // RFC 9112 section 2.2: ignore empty lines before the request line (some clients send a CRLF after a POST body).
        var skipped = 0
        while i < buffer.endIndex, buffer[i] == 0x0d || buffer[i] == 0x0a {
            i += 1
            skipped += 1
            if skipped > 8 { return .failed(.framing(400, "malformed request line")) }
        }
        guard let lineEnd = firstLF(buffer, from: i) else {
            return buffer.endIndex - i > limits.maxRequestLine ? .failed(.framing(414, "request line too long")) : .incomplete
        }
        if lineEnd - i > limits.maxRequestLine + 1 { return .failed(.framing(414, "request line too long")) }
        var lineStart = lineEnd + 1
        var count = 0
        while true {
            if lineStart - buffer.startIndex > limits.maxHeaderBytes { return .failed(.framing(431, "request headers too large")) }
            guard let end = firstLF(buffer, from: lineStart) else {
                if buffer.endIndex - lineStart > limits.maxHeaderLine { return .failed(.framing(431, "request header line too large")) }
                if buffer.endIndex - buffer.startIndex > limits.maxHeaderBytes { return .failed(.framing(431, "request headers too large")) }
                return .incomplete
            }
            if end - lineStart > limits.maxHeaderLine + 1 { return .failed(.framing(431, "request header line too large")) }
            let isEmpty = end == lineStart || (end == lineStart + 1 && buffer[lineStart] == 0x0d)
            if isEmpty { return .complete(consumed: end + 1 - buffer.startIndex) }
            count += 1
            if count > limits.maxHeaderCount { return .failed(.framing(431, "too many request headers")) }
            lineStart = end + 1
        }
    }

    /// The path of a request line that has arrived at least up to the space after its target,
    /// for choosing the shape of an error answered before the head was complete or valid
    /// (a timeout, headers too large); nil when there is no such target yet.
    public static func peekPath(_ buffer: ArraySlice<UInt8>) -> String? {
        var i = buffer.startIndex
        while i < buffer.endIndex, buffer[i] == 0x0d || buffer[i] == 0x0a { i += 1 }
        guard let methodEnd = buffer[i...].firstIndex(of: 0x20) else { return nil }
        let targetStart = methodEnd + 1
        guard let targetEnd = buffer[targetStart...].firstIndex(where: { $0 == 0x20 || $0 == 0x0d || $0 == 0x0a }),
              buffer[targetEnd] == 0x20, targetEnd > targetStart else { return nil }
        let target = buffer[targetStart..<targetEnd]
        guard target.first == UInt8(ascii: "/") else { return nil }
        let pathEnd = target.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) ?? target.endIndex
        return String(decoding: target[..<pathEnd], as: UTF8.self)
    }

    /// Parses a complete head (as found by `scan`) into a RequestHead.
    public static func parse(_ head: ArraySlice<UInt8>) throws(HTTPError) -> RequestHead {
        var lines = [ArraySlice<UInt8>]()
        var start = head.startIndex
        var i = head.startIndex
        while i < head.endIndex {
            if head[i] == 0x0a {
                var line = head[start..<i]
                if line.last == 0x0d { line = line.dropLast() }
                lines.append(line)
                start = i + 1
            }
            i += 1
        }
        // Drop the leading empty lines that scan allowed and the final empty line.
        while let first = lines.first, first.isEmpty { lines.removeFirst() }
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard let requestLine = lines.first else { throw .framing(400, "malformed request line") }

        var result = try parseRequestLine(requestLine)
        for line in lines.dropFirst() {
            let (name, value) = try parseHeaderLine(line)
            result.headers.add(name, value)
        }
        return result
    }

    private static func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPError) -> RequestHead {
        // Exactly three parts separated by single spaces: method SP target SP version.
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty else {
            throw .framing(400, "malformed request line")
        }
        guard parts[0].allSatisfy(isTokenByte) else { throw .framing(400, "malformed request method") }
        let version = parts[2]
        let prefix = Array("HTTP/".utf8)
        guard version.count == 8, Array(version.prefix(5)) == prefix,
              isDigit(version[version.startIndex + 5]), version[version.startIndex + 6] == UInt8(ascii: "."),
              isDigit(version[version.startIndex + 7]) else {
            throw .framing(400, "malformed HTTP version")
        }
        let major = Int(version[version.startIndex + 5] - 0x30), minor = Int(version[version.startIndex + 7] - 0x30)
        guard major == 1, minor <= 1 else { throw .framing(505, "HTTP version not supported") }

        let target = parts[1]
        // Visible ASCII only: no controls, spaces or bytes past 0x7e (they must be percent-encoded).
        guard target.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { throw .framing(400, "malformed request target") }
        let targetString = String(decoding: target, as: UTF8.self)
        var pathPart = Substring(targetString)
        if !targetString.hasPrefix("/") {
            // absolute-form (RFC 9112 section 3.2.2): keep the path; "*" only for OPTIONS.
            if targetString == "*" {
                pathPart = "*"
            } else if let schemeEnd = targetString.utf8.firstRange(of: "://".utf8),
                      targetString.lowercased().hasPrefix("http://") || targetString.lowercased().hasPrefix("https://") {
                let rest = targetString[schemeEnd.upperBound...]
                pathPart = rest.firstIndex(of: "/").map { rest[$0...] } ?? "/"
            } else {
                throw .framing(400, "malformed request target")
            }
        }
        var path = String(pathPart)
        var query: String?
        if let q = path.firstIndex(of: "?") {
            query = String(path[path.index(after: q)...])
            path = String(path[..<q])
        }
        if let hash = path.firstIndex(of: "#") { path = String(path[..<hash]) }
        return RequestHead(method: String(decoding: parts[0], as: UTF8.self), target: targetString, path: path,
                           query: query, versionMinor: minor, headers: HTTPHeaders())
    }

    private static func parseHeaderLine(_ line: ArraySlice<UInt8>) throws(HTTPError) -> (String, String) {
        guard let first = line.first else { throw .framing(400, "malformed header") }
        // obs-fold (RFC 9112 section 5.2) is refused rather than unfolded.
        if first == 0x20 || first == 0x09 { throw .framing(400, "obsolete header line folding") }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .framing(400, "malformed header: no colon") }
        let name = line[line.startIndex..<colon]
        // No whitespace between the name and the colon (RFC 9112 section 5.1): a smuggling vector.
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else { throw .framing(400, "malformed header name") }
        var value = line[(colon + 1)...]
        while let f = value.first, f == 0x20 || f == 0x09 { value = value.dropFirst() }
        while let l = value.last, l == 0x20 || l == 0x09 { value = value.dropLast() }
        // Field values: no CR, LF, NUL or other controls except tab.
        guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7f) }) else {
            throw .framing(400, "invalid character in header value")
        }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    private static func firstLF(_ buffer: ArraySlice<UInt8>, from: Int) -> Int? {
        var i = from
        while i < buffer.endIndex {
            if buffer[i] == 0x0a { return i }
            i += 1
        }
        return nil
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    /// tchar from RFC 9110 section 5.6.2.
    public static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(c)
        }
    }
}
