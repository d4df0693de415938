import ACME
import FoundationEssentials
import Glibc
import SlipwayCrypto
import SlipwaySystem
import SlipwayTLS
import Synchronization

/// Certificates that come by themselves: for every exact domain of every app without one, an
/// order to the ACME CA, answered by HTTP-01 on the HTTP edge or TLS-ALPN-01 on the HTTPS edge
/// (whichever works: when the CA could not validate one, a new order tries the other at once),
/// and the chain installed without a restart; renewed when a third of its lifetime is left. One thread of its own works through
/// the domains one at a time, so the CA never sees more than one order from Slipway at once. A
/// failure is shown (`failed`, with the CA's words) and tried again after a backoff that doubles
/// from `--acme-retry-seconds` (a minute) to a day, or the CA's Retry-After when longer. Uploaded certificates are never
/// replaced, and wildcards (which HTTP-01 cannot prove) are left to uploads.
public final class ACMECertificates: Sendable {
    private struct DomainState {
        var failures = 0
        var nextAttempt = 0
        var lastError: String?
        var ordering = false
        /// The challenge that last worked, tried first next time.
        var worked: ChallengeType?
    }

    /// The CA tried and could not validate the domain by one challenge: the other may work.
    private struct ValidationFailed: Error {
        let type: ChallengeType
        let detail: String
    }

    let settings: ACMESettings
    let certificates: UploadedCertificates
    public let challenges = PendingChallenges()
    private let domains: @Sendable () -> [String]
    /// Told of the first failure for a domain after a success (or ever): its notifications.
    private let failed: @Sendable (_ domain: String, _ error: String) -> Void
    private let accountKeyPath: String
    private let states = Mutex<[String: DomainState]>([:])
    private let wake: EventSignal
    private let stopped = Atomic<Bool>(false)
    /// How long one authorization or order is polled before the attempt counts as failed.
    static let pollSeconds = 90

    public init(dataDir: String, settings: ACMESettings, certificates: UploadedCertificates,
                domains: @escaping @Sendable () -> [String],
                failed: @escaping @Sendable (_ domain: String, _ error: String) -> Void = { _, _ in }) throws {
        self.failed = failed
        self.settings = settings
        self.certificates = certificates
        self.domains = domains
        let directory = dataDir + "/acme"
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw IOError(function: "mkdir \(directory)", errno: errno) }
        chmod(directory, 0o700)
        accountKeyPath = directory + "/account.key"
        wake = try EventSignal()
    }

    /// Starts the thread that orders and renews.
    public func start() {
        OSThread.detach(name: "acme") { [self] in run() }
    }

    public func stop() {
        stopped.store(true, ordering: .relaxed)
        wake.signal()
    }

    /// Looks again now (a domain was added).
    public func domainsChanged() { wake.signal() }

    /// What an app's page and JSON show for domains with no certificate installed: pending while
    /// ordered, failed with the CA's words after a failure.
    public func status(of domain: String) -> CertificateSummary? {
        guard !domain.hasPrefix("*."), let state = states.withLock({ $0[domain] }) else { return nil }
        if let error = state.lastError, !state.ordering {
            return CertificateSummary(domain: domain, status: .failed, issuer: "", notAfter: 0, source: "acme", lastError: error)
        }
        return CertificateSummary(domain: domain, status: .pending, issuer: "", notAfter: 0, source: "acme", lastError: state.lastError)
    }

    // MARK: the loop

    private func run() {
        let client: ACMEClient
        do {
            let transport = HTTPSClient(trust: settings.caFile.map(TLSTrust.caFile) ?? .system)
            client = try ACMEClient(directoryURL: settings.directoryURL, accountKey: try accountKey(), transport: transport)
        } catch {
            Log.error("ACME: cannot start: \(error)")
            return
        }
        while !stopped.load(ordering: .relaxed) {
            if let domain = nextDomain() {
                order(domain, with: client)
            } else {
                wake.wait(timeoutMilliseconds: 2_000)
            }
        }
    }

    /// The next domain due for an order: no certificate, or an ACME one with a third of its
    /// lifetime left; and not waiting out a backoff.
    private func nextDomain() -> String? {
        let now = Int(Date().timeIntervalSince1970)
        let wanted = Set(domains().filter { !$0.hasPrefix("*.") })
        return states.withLock { table in
            table = table.filter { wanted.contains($0.key) }
            for domain in wanted.sorted() {
                if let installed = certificates.summary(for: domain) {
                    guard installed.source == "acme" else { continue }
                    let lifetime = max(1, installed.notAfter - installed.notBefore)
                    guard installed.notAfter - now < lifetime / 3 else { continue }
                }
                let state = table[domain] ?? DomainState()
                if state.nextAttempt <= now {
                    table[domain, default: DomainState()].ordering = true
                    return domain
                }
            }
            return nil
        }
    }

    private func order(_ domain: String, with client: ACMEClient) {
        Log.info("ACME: ordering a certificate for \(domain) from \(settings.directoryURL)")
        do {
            do {
                try client.account(email: settings.email)
            } catch let error as ACMEError where error.problem == "accountDoesNotExist" {
                // Registered again at once: the account is ours to make, not a reason to wait.
                try client.account(email: settings.email)
            }
            let worked = try issueByWhatWorks(domain, client)
            states.withLock { $0[domain] = DomainState(worked: worked) }
            Log.info("ACME: certificate for \(domain) installed (validated by \(worked.rawValue))")
        } catch {
            let retryAfter = (error as? ACMEError)?.retryAfter ?? 0
            let first = states.withLock { ($0[domain]?.failures ?? 0) == 0 }
            states.withLock { table in
                var state = table[domain] ?? DomainState()
                state.failures += 1
                state.ordering = false
                state.lastError = String(describing: error)
                let backoff = min(settings.retrySeconds << min(state.failures - 1, 16), 86_400)
                state.nextAttempt = Int(Date().timeIntervalSince1970) + max(backoff, retryAfter)
                table[domain] = state
            }
            Log.warning("ACME: \(domain): \(error)")
            if first { failed(domain, String(describing: error)) }
        }
    }

    /// Orders with each challenge type in turn (the one that worked last time first) until the
    /// CA validates one; returns it. Anything but a failed validation (the CA unreachable, a
    /// rate limit) ends the attempt at once: the other type would meet it too.
    private func issueByWhatWorks(_ domain: String, _ client: ACMEClient) throws -> ChallengeType {
        var failures: [ValidationFailed] = []
        for type in ChallengeType.attempts(preferring: states.withLock { $0[domain]?.worked }) {
            do {
                try issue(domain, by: type, client)
                return type
            } catch let failed as ValidationFailed {
                Log.info("ACME: \(domain): \(type.rawValue) did not validate: \(failed.detail)")
                failures.append(failed)
            }
        }
        throw ACMEError("validating \(domain)", detail: failures.map { "\($0.type.rawValue): \($0.detail)" }.joined(separator: "; "))
    }

    private func issue(_ domain: String, by type: ChallengeType, _ client: ACMEClient) throws {
        var order = try client.newOrder(names: [domain])
        for url in order.authorizations {
            var authorization = try client.authorization(url)
            if authorization.status == "valid" { continue }
            guard let challenge = authorization.challenges.first(where: { $0.type == type.rawValue }) else {
                throw ValidationFailed(type: type, detail: "the CA offers no \(type.rawValue) challenge")
            }
            let keyAuthorization = try client.keyAuthorization(token: challenge.token)
            let answered = try answer(type, domain: domain, token: challenge.token, keyAuthorization: keyAuthorization)
            defer { answered.withdraw() }
            try client.respond(to: challenge)
            authorization = try poll("validating \(domain)") {
                let current = try client.authorization(url)
                return current.status == "pending" ? nil : current
            }
            guard authorization.status == "valid" else {
                let why = authorization.challenges.first { $0.type == type.rawValue }?.error ?? "the authorization is \(authorization.status)"
                throw ValidationFailed(type: type, detail: why)
            }
        }
        // Validated: the type that works, even if what follows (finalizing) fails and the order
        // is tried again.
        states.withLock { $0[domain, default: DomainState()].worked = type }
        let key = try PrivateKey.generateP256()
        order = try client.order(order.url)
        order = try client.finalize(order, csr: try CertificateRequest.der(names: [domain], key: key))
        order = try poll("finalizing the order for \(domain)") {
            let current = try client.order(order.url)
            return current.status == "processing" || current.status == "ready" ? nil : current
        }
        guard order.status == "valid", let url = order.certificate else {
            throw ACMEError("finalizing the order for \(domain)", detail: "the order is \(order.status)")
        }
        try certificates.upload(domain: domain, chainPEM: try client.certificate(url), keyPEM: try key.pem(), source: "acme")
    }

    /// A challenge's answer while the CA looks, and how to take it away after.
    private struct Answer {
        let withdraw: () -> Void
    }

    /// Puts up the answer the CA will look for: the key authorization at the HTTP edge's
    /// well-known path (HTTP-01), or a certificate carrying its digest for a handshake that asks
    /// for `acme-tls/1` (TLS-ALPN-01).
    private func answer(_ type: ChallengeType, domain: String, token: String, keyAuthorization: String) throws -> Answer {
        switch type {
        case .http01:
            challenges.add(token: token, keyAuthorization: keyAuthorization)
            return Answer { [challenges] in challenges.remove(token: token) }
        case .tlsALPN01:
            let key = try PrivateKey.generateP256()
            let chain = try SelfSignedCertificate.make(names: [domain], key: key, validSeconds: 7 * 86_400,
                                                       acmeIdentifier: Crypto.sha256(Array(keyAuthorization.utf8)))
            let store = certificates.store
            store.installChallenge(try ServerCertificate.challenge(chain: chain, key: key), for: domain)
            return Answer { store.removeChallenge(domain) }
        }
    }

    /// Asks `check` every half second until it returns something, for at most `pollSeconds`.
    private func poll<T>(_ operation: String, _ check: () throws -> T?) throws -> T {
        let deadline = monotonicMilliseconds() + Self.pollSeconds * 1000
        while monotonicMilliseconds() < deadline {
            if let done = try check() { return done }
            wake.wait(timeoutMilliseconds: 500)
            if stopped.load(ordering: .relaxed) { break }
        }
        throw ACMEError(operation, detail: "no decision from the CA within \(Self.pollSeconds) s")
    }

    /// The account's key: made once (P-256) and kept 0600 beside the data.
    private func accountKey() throws -> PrivateKey {
        if let pem = PosixFile.read(accountKeyPath) { return try PrivateKey(pem: pem) }
        let key = try PrivateKey.generateP256()
        guard let fd = PosixFile.open(accountKeyPath, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600) else {
            throw IOError(function: "open \(accountKeyPath)", errno: errno)
        }
        defer { close(fd) }
        guard PosixFile.writeAll(fd, try key.pem()) else { throw IOError(function: "write \(accountKeyPath)", errno: errno) }
        return key
    }
}
