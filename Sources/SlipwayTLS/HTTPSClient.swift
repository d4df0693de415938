import SlipwayHTTP
import SlipwaySystem

/// Slipway's one client for its own outbound HTTPS requests (the ACME CA; notification targets
/// next): a request on a connection of its own (`Connection: close`), the answer read whole up
/// to `maxResponseBytes`, every wait within `timeoutMilliseconds`. Blocking: call it from a
/// thread of its own. No shell and no child process: OpenSSL, through `TLSClientConnection`.
public struct HTTPSClient: Sendable {
    public struct Response: Sendable {
        public let status: Int
        public let headers: HTTPHeaders
        public let body: [UInt8]

        public init(status: Int, headers: HTTPHeaders, body: [UInt8]) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    public let trust: TLSTrust
    public var timeoutMilliseconds = 30_000
    public var maxResponseBytes = 1 << 20
    public var userAgent = "slipway"
    /// Whether `http://` URLs are taken too (notification targets on a private network); the
    /// ACME CA is always reached over HTTPS.
    public var allowsPlainHTTP = false

    public init(trust: TLSTrust) {
        self.trust = trust
    }

    /// Sends `method` to an `https://host[:port]/path` URL.
    public func send(_ method: String, _ url: String, headers: [(String, String)] = [], body: [UInt8] = []) throws(TLSError) -> Response {
        let target = try Self.parse(url, allowingHTTP: allowsPlainHTTP)
        let connection: any OutboundConnection = target.encrypted
            ? try TLSClientConnection(host: target.host, port: target.port, trust: trust, timeoutMilliseconds: timeoutMilliseconds)
            : try PlainClientConnection(host: target.host, port: target.port, timeoutMilliseconds: timeoutMilliseconds)
        var head = "\(method) \(target.path) HTTP/1.1\r\nHost: \(target.authority)\r\nUser-Agent: \(userAgent)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { head += "Content-Length: \(body.count)\r\n" }
        try connection.write(Array((head + "\r\n").utf8) + body)

        var received: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 1)
        defer { buffer.deallocate() }
        while true {
            let n = try connection.read(into: buffer)
            if n == 0 { break }
            received.append(contentsOf: buffer[0..<n])
            guard received.count <= maxResponseBytes + 16 * 1024 else {
                throw TLSError("\(method) \(url)", reason: "the answer is larger than \(maxResponseBytes) bytes")
            }
        }
        return try Self.response(received, method: method, url: url, limit: maxResponseBytes)
    }

    /// The answer in `bytes`, read to the server's close.
    static func response(_ bytes: [UInt8], method: String, url: String, limit: Int) throws(TLSError) -> Response {
        let operation = "\(method) \(url)"
        guard case .complete(let head, let consumed) = ResponseHeadParser.parse(bytes[...], limits: HTTPLimits()) else {
            throw TLSError(operation, reason: bytes.isEmpty ? "the server closed the connection without answering" : "the answer's head does not parse")
        }
        let rest = Array(bytes[consumed...])
        let framing: ResponseFraming
        do {
            framing = try ResponseFraming.of(head, requestMethod: method)
        } catch {
            throw TLSError(operation, reason: error.reason)
        }
        let body: [UInt8]
        switch framing {
        case .none:
            body = []
        case .contentLength(let length):
            guard rest.count >= length else { throw TLSError(operation, reason: "the answer ended after \(rest.count) of \(length) bytes") }
            body = Array(rest.prefix(length))
        case .untilClose:
            body = rest
        case .chunked:
            var decoder = ChunkedDecoder(limits: HTTPLimits(), bodyLimit: limit)
            var index = 0
            do {
                guard try decoder.feed(rest, index: &index) else { throw TLSError(operation, reason: "the chunked answer ended early") }
            } catch let error as TLSError {
                throw error
            } catch {
                throw TLSError(operation, reason: "the chunked answer does not parse")
            }
            body = decoder.body
        }
        return Response(status: head.status, headers: head.headers, body: body)
    }

    public struct Target: Sendable {
        public let host: String
        public let port: Int
        public let path: String
        public let encrypted: Bool
        var authority: String { port == (encrypted ? 443 : 80) ? host : "\(host):\(port)" }
    }

    /// `https://host[:port][/path]`, and `http://` when `allowingHTTP`; anything else is refused
    /// (no user info, no IPv6 literal yet).
    public static func parse(_ url: String, allowingHTTP: Bool = false) throws(TLSError) -> Target {
        let encrypted = url.hasPrefix("https://")
        guard encrypted || (allowingHTTP && url.hasPrefix("http://")) else {
            throw TLSError("parsing \(url.prefix(200))", reason: allowingHTTP ? "not an http:// or https:// URL" : "not an https:// URL")
        }
        let rest = url.dropFirst(encrypted ? "https://".count : "http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        let path = slash == rest.endIndex ? "/" : String(rest[slash...])
        var host = Substring(authority)
        var port = encrypted ? 443 : 80
        if let colon = authority.lastIndex(of: ":") {
            guard let number = Int(authority[authority.index(after: colon)...]), (1...65535).contains(number) else {
                throw TLSError("parsing \(url.prefix(200))", reason: "the port is not a number from 1 to 65535")
            }
            port = number
            host = authority[..<colon]
        }
        guard !host.isEmpty, host.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x2e }),
              path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw TLSError("parsing \(url.prefix(200))", reason: "not a host name and path")
        }
        return Target(host: String(host), port: port, path: path, encrypted: encrypted)
    }
}
