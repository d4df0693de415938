/// An ACME request that failed: what was asked, and the CA's problem document (RFC 8555 section
/// 6.7) when it sent one, or the transport's reason. Carries no key, nonce or signature.
public struct ACMEError: Error, CustomStringConvertible, Sendable, Equatable {
    public let operation: String
    /// The problem's type without the `urn:ietf:params:acme:error:` prefix (`badNonce`,
    /// `rateLimited`, `unauthorized`...), nil when the failure was not the CA's answer.
    public let problem: String?
    public let detail: String
    public let status: Int?
    /// Seconds the CA asked to wait before trying again (`Retry-After`).
    public let retryAfter: Int?

    public init(_ operation: String, problem: String? = nil, detail: String, status: Int? = nil, retryAfter: Int? = nil) {
        self.operation = operation
        self.problem = problem
        self.detail = detail
        self.status = status
        self.retryAfter = retryAfter
    }

    public var description: String {
        var text = "\(operation): "
        if let status { text += "\(status) " }
        if let problem { text += "\(problem): " }
        return text + detail
    }
}
