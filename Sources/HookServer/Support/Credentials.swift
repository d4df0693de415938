import Pipeline
import SlipwayCrypto
import SlipwaySystem
import Synchronization

/// The admin password hash and the API token hash, kept in the settings table, and the limits on
/// guessing them. Only hashes are stored; a generated secret is written once to the data
/// directory's `InitialCredentialsFile`, never to the log.
final class Credentials: Sendable {
    private let apiTokenDigest: Mutex<String>
    let adminPasswordHash: Mutex<String>
    /// Failed API tokens per client. Here, beside the token, so that every route that checks it
    /// counts against the same budget.
    let apiTokenFailures = FailureThrottle()
    /// Each check costs 600,000 PBKDF2 iterations (0.14 s of a core here), so at most two run at
    /// once, server-wide: a flood of logins from many addresses can take two cores' worth of
    /// time, never every worker.
    private let passwordChecks = ConcurrencyGate(limit: 2)

    static let adminPasswordKey = "admin_password_hash"
    static let apiTokenKey = "api_token_sha256"
    /// Stored by earlier versions and never used; deleted at start.
    static let retiredSessionKeyKey = "session_key"

    enum PasswordCheck: Sendable, Equatable {
        case valid
        case invalid
        /// Two checks were already running; this one was not made.
        case busy
    }

    init(store: Store, configuredPassword: String?, configuredToken: String?,
         generatedFile: InitialCredentialsFile? = nil) throws {
        var generated = [(variable: String, value: String)]()
        var updates = [(key: String, value: String)]()

        var passwordHash = try store.setting(Self.adminPasswordKey)
        if let configuredPassword {
            // Re-hash only when the configured password changed, since PBKDF2 is deliberately slow.
            if passwordHash.map({ !PasswordHash.verify(password: configuredPassword, against: $0) }) ?? true {
                passwordHash = PasswordHash.make(password: configuredPassword)
                updates.append((Self.adminPasswordKey, passwordHash!))
            }
        } else if passwordHash == nil {
            let password = PasswordHash.randomToken(bytes: 12)
            passwordHash = PasswordHash.make(password: password)
            updates.append((Self.adminPasswordKey, passwordHash!))
            generated.append(("SLIPWAY_ADMIN_PASSWORD", password))
        }

        var tokenDigest = try store.setting(Self.apiTokenKey)
        if let configuredToken {
            let digest = PasswordHash.tokenDigest(configuredToken)
            if tokenDigest != digest {
                tokenDigest = digest
                updates.append((Self.apiTokenKey, digest))
            }
        } else if tokenDigest == nil {
            let token = PasswordHash.randomToken(bytes: 32)
            tokenDigest = PasswordHash.tokenDigest(token)
            updates.append((Self.apiTokenKey, tokenDigest!))
            generated.append(("SLIPWAY_API_TOKEN", token))
        }

        // The file first, then the hashes: see InitialCredentialsFile.write.
        if !generated.isEmpty {
            guard let generatedFile else { throw NowhereForGeneratedSecrets() }
            try generatedFile.write(generated)
            let what = generated.map { $0.variable == "SLIPWAY_API_TOKEN" ? "an API token" : "an admin password" }
            Log.warning("generated \(what.joined(separator: " and ")); \(generated.count == 1 ? "it is" : "they are") in \(generatedFile.path), "
                        + "readable only by this user: read the file, then delete it "
                        + "(or set SLIPWAY_ADMIN_PASSWORD and SLIPWAY_API_TOKEN to choose your own)")
        }
        for (key, value) in updates { try store.setSetting(key, value) }
        try store.removeSetting(Self.retiredSessionKeyKey)

        self.adminPasswordHash = Mutex(passwordHash!)
        self.apiTokenDigest = Mutex(tokenDigest!)
    }

    /// Checks "Authorization: Bearer <token>" in constant time.
    func isValidAPIToken(_ header: String?) -> Bool {
        guard let header, header.count > 7, header.prefix(7).caseInsensitiveEquals("bearer ") else { return false }
        let token = String(header.dropFirst(7)).trimmingSpaces()
        let given = Hex.decode(PasswordHash.tokenDigest(String(token))) ?? []
        let expected = Hex.decode(apiTokenDigest.withLock { $0 }) ?? []
        return Crypto.constantTimeEqual(given, expected)
    }

    /// Checks the admin password, unless two checks are running already: then it answers `.busy`
    /// at once rather than wait, so no request ever queues a thread behind PBKDF2.
    func checkAdminPassword(_ password: String) -> PasswordCheck {
        passwordChecks.ifOpen {
            PasswordHash.verify(password: password, against: adminPasswordHash.withLock { $0 }) ? .valid : .invalid
        } ?? .busy
    }

    /// A secret had to be generated but no file was given to hold it.
    struct NowhereForGeneratedSecrets: Error, CustomStringConvertible {
        var description: String { "a secret must be generated, but there is no file to write it to" }
    }
}
