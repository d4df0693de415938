/// GitHub's X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256 of the raw body.
public enum WebhookSignature {
    public static func sign(body: [UInt8], secret: String) -> String {
        "sha256=" + Hex.encode(Crypto.hmacSHA256(key: Array(secret.utf8), message: body))
    }

    /// Constant-time check of a header value. The expected MAC never leaves this function.
    public static func isValid(header: String?, body: [UInt8], secret: String) -> Bool {
        guard let header, header.hasPrefix("sha256="),
              let given = Hex.decode(String(header.dropFirst(7))), given.count == 32 else { return false }
        let expected = Crypto.hmacSHA256(key: Array(secret.utf8), message: body)
        return Crypto.constantTimeEqual(given, expected)
    }
}
