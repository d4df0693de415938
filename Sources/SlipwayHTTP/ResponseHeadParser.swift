/// Parses the head of a response an upstream sent (RFC 9112 sections 4 and 5), with the same
/// limits the server puts on requests: an app is trusted no more than a client, since a
/// compromised or buggy one must not make the edge buffer without bound or pass on a header that
/// splits the response it forwards. A pure function of the bytes received so far.
public enum ResponseHeadParser {
    public enum Result: Equatable {
        case incomplete
        /// The head, and how many bytes of the buffer it took.
        case complete(ResponseHead, consumed: Int)
        /// Not a response the edge can forward; the reason, for the log.
        case failed(String)
    }

    public static func parse(_ buffer: ArraySlice<UInt8>, limits: HTTPLimits) -> Result {
        var lineStart = buffer.startIndex
        var statusLine: ArraySlice<UInt8>?
        var headers = HTTPHeaders()
        var count = 0
        while true {
            guard let lf = buffer[lineStart...].firstIndex(of: 0x0a) else {
                if buffer.endIndex - lineStart > limits.maxHeaderLine { return .failed("response header line too long") }
                if buffer.count > limits.maxHeaderBytes { return .failed("response head too large") }
                return .incomplete
            }
            if lf - buffer.startIndex > limits.maxHeaderBytes { return .failed("response head too large") }
            if lf - lineStart > limits.maxHeaderLine + 1 { return .failed("response header line too long") }
            var line = buffer[lineStart..<lf]
            if line.last == 0x0d { line = line.dropLast() }
            lineStart = lf + 1
            guard let status = statusLine else {
                statusLine = line
                continue
            }
            if line.isEmpty {
                guard let parsed = parseStatusLine(status) else { return .failed("malformed status line") }
                return .complete(ResponseHead(versionMinor: parsed.minor, status: parsed.status, reason: parsed.reason, headers: headers),
                                 consumed: lineStart - buffer.startIndex)
            }
            count += 1
            if count > limits.maxHeaderCount { return .failed("too many response headers") }
            guard let field = parseHeaderLine(line) else { return .failed("malformed response header") }
            headers.add(field.name, field.value)
        }
    }

    /// `HTTP/1.x SSS reason`; the reason may be empty, and its space too (RFC 9112 section 4).
    private static func parseStatusLine(_ line: ArraySlice<UInt8>) -> (minor: Int, status: Int, reason: String)? {
        let bytes = Array(line)
        guard bytes.count >= 12, Array(bytes[0..<7]) == Array("HTTP/1.".utf8), isDigit(bytes[7]), bytes[8] == 0x20,
              isDigit(bytes[9]), isDigit(bytes[10]), isDigit(bytes[11]) else { return nil }
        let minor = Int(bytes[7] - 0x30)
        let status = Int(bytes[9] - 0x30) * 100 + Int(bytes[10] - 0x30) * 10 + Int(bytes[11] - 0x30)
        guard minor <= 1, (100...599).contains(status) else { return nil }
        if bytes.count == 12 { return (minor, status, "") }
        guard bytes[12] == 0x20 else { return nil }
        let reason = bytes[13...]
        // The reason is text for people: tabs, spaces and visible bytes, never a control.
        guard reason.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7f) }) else { return nil }
        return (minor, status, String(decoding: reason, as: UTF8.self))
    }

    private static func parseHeaderLine(_ line: ArraySlice<UInt8>) -> (name: String, value: String)? {
        // obs-fold is refused, as in requests; so is whitespace before the colon (a smuggling vector).
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(RequestHeadParser.isTokenByte) else { return nil }
        var value = line[(colon + 1)...]
        while let f = value.first, f == 0x20 || f == 0x09 { value = value.dropFirst() }
        while let l = value.last, l == 0x20 || l == 0x09 { value = value.dropLast() }
        guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7f) }) else { return nil }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
}
