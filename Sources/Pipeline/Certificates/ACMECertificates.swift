import ACME
import FoundationEssentials
import Glibc
import SlipwaySystem
import SlipwayTLS
import Synchronization

/// Certificates that come by themselves: for every exact domain of every app without one, an
/// order to the ACME CA, answered by HTTP-01 on the HTTP edge, and the chain installed without a
/// restart; renewed when a third of its lifetime is left. One thread of its own works through
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
    }

    let settings: ACMESettings
    let certificates: UploadedCertificates
    public let challenges = PendingChallenges()
    private let domains: @Sendable () -> [String]
    private let accountKeyPath: String
    private let states = Mutex<[String: DomainState]>([:])
    private let wake: EventSignal
    private let stopped = Atomic<Bool>(false)
    /// How long one authorization or order is polled before the attempt counts as failed.
    static let pollSeconds = 90

    public init(dataDir: String, settings: ACMESettings, certificates: UploadedCertificates,
                domains: @escaping @Sendable () -> [String]) throws {
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
                try issue(domain, client)
            } catch let error as ACMEError where error.problem == "accountDoesNotExist" {
                // Registered again at once: the account is ours to make, not a reason to wait.
                try client.account(email: settings.email)
                try issue(domain, client)
            }
            states.withLock { $0[domain] = DomainState() }
            Log.info("ACME: certificate for \(domain) installed")
        } catch {
            let retryAfter = (error as? ACMEError)?.retryAfter ?? 0
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
        }
    }

    private func issue(_ domain: String, _ client: ACMEClient) throws {
        var order = try client.newOrder(names: [domain])
        for url in order.authorizations {
            var authorization = try client.authorization(url)
            if authorization.status == "valid" { continue }
            guard let challenge = authorization.challenges.first(where: { $0.type == "http-01" }) else {
                throw ACMEError("validating \(domain)", detail: "the CA offers no http-01 challenge")
            }
            challenges.add(token: challenge.token, keyAuthorization: try client.keyAuthorization(token: challenge.token))
            defer { challenges.remove(token: challenge.token) }
            try client.respond(to: challenge)
            authorization = try poll("validating \(domain)") {
                let current = try client.authorization(url)
                return current.status == "pending" ? nil : current
            }
            guard authorization.status == "valid" else {
                let why = authorization.challenges.first { $0.type == "http-01" }?.error ?? "the authorization is \(authorization.status)"
                throw ACMEError("validating \(domain)", detail: why)
            }
        }
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
