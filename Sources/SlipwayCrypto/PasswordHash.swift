/// Slow hashes for the admin password, fast hashes for random API tokens.
///
/// The password is chosen by a person, so it gets PBKDF2 with OWASP's 2023 figure of 600,000
/// iterations. API tokens are 32 random bytes: guessing is hopeless, so a SHA-256 keeps checks cheap.
public enum PasswordHash {
    public static let iterations = 600_000

    /// "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>"
    public static func make(password: String, iterations: Int = iterations) -> String {
        let salt = Crypto.randomBytes(16)
        let hash = Crypto.pbkdf2SHA256(password: Array(password.utf8), salt: salt, iterations: iterations)
        return "pbkdf2-sha256$\(iterations)$\(Hex.encode(salt))$\(Hex.encode(hash))"
    }

    public static func verify(password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "pbkdf2-sha256",
              let iterations = Int(parts[1]), iterations > 0, iterations <= 10_000_000,
              let salt = Hex.decode(String(parts[2])), let expected = Hex.decode(String(parts[3])), !expected.isEmpty
        else { return false }
        let actual = Crypto.pbkdf2SHA256(password: Array(password.utf8), salt: salt,
                                         iterations: iterations, length: expected.count)
        return Crypto.constantTimeEqual(actual, expected)
    }

    /// Hex SHA-256 of a high-entropy token.
    public static func tokenDigest(_ token: String) -> String {
        Hex.encode(Crypto.sha256(Array(token.utf8)))
    }

    /// A new random secret as 64 hex characters (32 bytes).
    public static func randomToken(bytes: Int = 32) -> String {
        Hex.encode(Crypto.randomBytes(bytes))
    }
}
