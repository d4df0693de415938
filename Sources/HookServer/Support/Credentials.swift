import Pipeline
import SlipwayCrypto
import SlipwaySystem
import Synchronization

/// The admin password hash, the API token hash and the session key, kept in the settings table.
/// Only hashes are stored; a generated secret is printed once, on the start that made it.
final class Credentials: Sendable {
    private let apiTokenDigest: Mutex<String>
    let adminPasswordHash: Mutex<String>
    let sessionKey: String

    static let adminPasswordKey = "admin_password_hash"
    static let apiTokenKey = "api_token_sha256"
    static let sessionKeyKey = "session_key"

    init(store: Store, configuredPassword: String?, configuredToken: String?) throws {
        var announcements = [String]()

        var passwordHash = try store.setting(Self.adminPasswordKey)
        if let configuredPassword {
            // Re-hash only when the configured password changed, since PBKDF2 is deliberately slow.
            if passwordHash.map({ !PasswordHash.verify(password: configuredPassword, against: $0) }) ?? true {
                passwordHash = PasswordHash.make(password: configuredPassword)
                try store.setSetting(Self.adminPasswordKey, passwordHash!)
            }
        } else if passwordHash == nil {
            let generated = PasswordHash.randomToken(bytes: 12)
            passwordHash = PasswordHash.make(password: generated)
            try store.setSetting(Self.adminPasswordKey, passwordHash!)
            announcements.append("generated admin password (shown once; set SLIPWAY_ADMIN_PASSWORD to choose your own): \(generated)")
        }

        var tokenDigest = try store.setting(Self.apiTokenKey)
        if let configuredToken {
            let digest = PasswordHash.tokenDigest(configuredToken)
            if tokenDigest != digest {
                tokenDigest = digest
                try store.setSetting(Self.apiTokenKey, digest)
            }
        } else if tokenDigest == nil {
            let generated = PasswordHash.randomToken(bytes: 32)
            tokenDigest = PasswordHash.tokenDigest(generated)
            try store.setSetting(Self.apiTokenKey, tokenDigest!)
            announcements.append("generated API token (shown once; set SLIPWAY_API_TOKEN to choose your own): \(generated)")
        }

        var key = try store.setting(Self.sessionKeyKey)
        if key == nil {
            key = PasswordHash.randomToken(bytes: 32)
            try store.setSetting(Self.sessionKeyKey, key!)
        }

        self.adminPasswordHash = Mutex(passwordHash!)
        self.apiTokenDigest = Mutex(tokenDigest!)
        self.sessionKey = key!
        // Printed on stderr on purpose: this is the operator's one chance to see them.
        for line in announcements { Log.warning(line) }
    }

    /// Checks "Authorization: Bearer <token>" in constant time.
    func isValidAPIToken(_ header: String?) -> Bool {
        guard let header, header.count > 7, header.prefix(7).caseInsensitiveEquals("bearer ") else { return false }
        let token = String(header.dropFirst(7)).trimmingSpaces()
        let given = Hex.decode(PasswordHash.tokenDigest(String(token))) ?? []
        let expected = Hex.decode(apiTokenDigest.withLock { $0 }) ?? []
        return Crypto.constantTimeEqual(given, expected)
    }

    func isValidAdminPassword(_ password: String) -> Bool {
        PasswordHash.verify(password: password, against: adminPasswordHash.withLock { $0 })
    }
}
