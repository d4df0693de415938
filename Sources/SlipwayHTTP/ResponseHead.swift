/// The status line and headers of a response an upstream sent, as the HTTP edge reads them.
public struct ResponseHead: Sendable, Equatable {
    public var versionMinor: Int
    public var status: Int
    public var reason: String
    public var headers: HTTPHeaders

    public init(versionMinor: Int, status: Int, reason: String, headers: HTTPHeaders) {
        self.versionMinor = versionMinor
        self.status = status
        self.reason = reason
        self.headers = headers
    }

    public static func == (a: ResponseHead, b: ResponseHead) -> Bool {
        a.versionMinor == b.versionMinor && a.status == b.status && a.reason == b.reason
            && a.headers.fields.map(\.name) == b.headers.fields.map(\.name) && a.headers.fields.map(\.value) == b.headers.fields.map(\.value)
    }

    /// 100 Continue, 103 Early Hints: an interim answer, with the real one still to come. 101
    /// Switching Protocols is final.
    public var isInterim: Bool { status >= 100 && status < 200 && status != 101 }

    /// Whether the upstream lets the connection carry another request after this response
    /// (RFC 9112 section 9.3): HTTP/1.1 unless it says close; HTTP/1.0 only if it says keep-alive.
    public var keepsAlive: Bool {
        if headers.hasToken("Connection", "close") { return false }
        return versionMinor >= 1 || headers.hasToken("Connection", "keep-alive")
    }
}
