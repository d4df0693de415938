import CTLS

/// A TLS or certificate operation that failed: what was being done, and why in OpenSSL's words
/// (its error queue's reasons, e.g. "certificate verify failed"). It never carries key bytes or
/// PEM text, only the names of what went wrong, so it is safe to log and to return to a client.
public struct TLSError: Error, CustomStringConvertible, Sendable, Equatable {
    public let operation: String
    public let reason: String

    public init(_ operation: String, reason: String) {
        self.operation = operation
        self.reason = reason
    }

    /// The error for `operation`, with the reasons OpenSSL queued on this thread (the queue is
    /// emptied, so they are not blamed on the next call).
    static func fromQueue(_ operation: String, fallback: String = "failed") -> TLSError {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if let text = ERR_reason_error_string(code) {
                let reason = String(cString: text)
                if !reasons.contains(reason) { reasons.append(reason) }
            }
        }
        return TLSError(operation, reason: reasons.isEmpty ? fallback : reasons.joined(separator: "; "))
    }

    public var description: String { "\(operation): \(reason)" }
}
