import FoundationEssentials
import SlipwaySystem
import SlipwayTLS
import Synchronization

/// Certificates users upload for their apps' domains, served by the HTTPS edge: checked,
/// stored 0600 (`CertificateFiles`), installed into the `CertificateStore` the handshake picks
/// from, and loaded again at start. A certificate is refused, with what is wrong, unless it
/// parses, its key is its own, it covers the domain and it has not expired.
public final class UploadedCertificates: Sendable {
    /// Expiry is warned about this many days ahead.
    public static let warnDays = 14

    public let store: CertificateStore
    /// nil: kept in memory only (the route tests).
    private let files: CertificateFiles?
    private let summaries = Mutex<[String: CertificateSummary]>([:])
    /// What the ACME orders say of domains with no certificate yet (pending, failed). The closure
    /// is kept in a box: a function value kept in a Mutex itself was re-wrapped in a conversion
    /// thunk at every `withLock`, and after a thousand reads its call overflowed the stack.
    private final class OrderStatus: Sendable {
        let status: @Sendable (String) -> CertificateSummary?
        init(_ status: @escaping @Sendable (String) -> CertificateSummary?) { self.status = status }
    }
    private let ordered = Mutex<OrderStatus?>(nil)
    /// Told after each certificate uploaded or issued (the expiry watch looks again); boxed too.
    private final class Listener: Sendable {
        let changed: @Sendable () -> Void
        init(_ changed: @escaping @Sendable () -> Void) { self.changed = changed }
    }
    private let listener = Mutex<Listener?>(nil)

    public init(dataDir: String?, store: CertificateStore = CertificateStore()) throws {
        self.store = store
        files = try dataDir.map { try CertificateFiles(dataDir: $0) }
        for pair in files?.loadAll() ?? [] {
            do {
                try install(domain: pair.domain, chainPEM: pair.chain, keyPEM: pair.key, requireCurrent: false, source: pair.source)
            } catch {
                Log.error("certificate for \(pair.domain): \(error)")
            }
        }
    }

    /// Checks and stores a certificate for `domain` (one of the app's), replacing any before it.
    @discardableResult
    public func upload(domain: String, chainPEM: [UInt8], keyPEM: [UInt8], source: String = "uploaded") throws -> CertificateSummary {
        let summary = try install(domain: domain, chainPEM: chainPEM, keyPEM: keyPEM, requireCurrent: true, source: source)
        try files?.save(CertificateFiles.Pair(domain: domain, chain: chainPEM, key: keyPEM, source: source))
        listener.withLock { $0 }?.changed()
        return summary
    }

    /// The certificate installed for `domain`, if any.
    public func summary(for domain: String) -> CertificateSummary? {
        summaries.withLock { $0[domain] }
    }

    /// Stops serving `domain`'s certificate and deletes its files. False when it had none.
    @discardableResult
    public func remove(domain: String) -> Bool {
        let had = summaries.withLock { $0.removeValue(forKey: domain) != nil }
        store.remove(domain)
        files?.remove(domain)
        return had
    }

    /// The certificates of these domains, in their order: the installed ones, and what ACME says
    /// of the others (domains with neither are left out).
    public func summaries(for domains: [String], now: Int = Int(Date().timeIntervalSince1970)) -> [CertificateSummary] {
        let installed = summaries.withLock { table in domains.map { table[$0] } }
        let orders = ordered.withLock { $0 }
        return zip(domains, installed).compactMap { domain, summary in
            summary.map { Self.refreshed($0, now: now) } ?? orders?.status(domain)
        }
    }

    /// Who is told after each upload or issue.
    public func onChange(_ changed: @escaping @Sendable () -> Void) {
        let box = Listener(changed)
        listener.withLock { $0 = box }
    }

    /// Where the summaries of domains without a certificate come from (the ACME orders).
    public func reportOrders(_ status: @escaping @Sendable (String) -> CertificateSummary?) {
        let box = OrderStatus(status)
        ordered.withLock { $0 = box }
    }

    @discardableResult
    private func install(domain: String, chainPEM: [UInt8], keyPEM: [UInt8], requireCurrent: Bool, source: String) throws -> CertificateSummary {
        let chain: CertificateChain
        let key: PrivateKey
        do {
            chain = try CertificateChain(pem: chainPEM)
        } catch {
            throw ValidationError("certificate", "the certificate is not a PEM certificate chain (\(error.reason))")
        }
        do {
            key = try PrivateKey(pem: keyPEM)
        } catch {
            throw ValidationError("private_key", "the private key is not an unencrypted PEM private key (\(error.reason))")
        }
        guard Self.covers(chain.dnsNames, domain) else {
            let names = chain.dnsNames.isEmpty ? "no DNS names" : chain.dnsNames.prefix(10).joined(separator: ", ")
            throw ValidationError("certificate", "the certificate is not for \(domain) (it names \(names))")
        }
        let now = Int(Date().timeIntervalSince1970)
        if requireCurrent && chain.notAfter <= now {
            throw ValidationError("certificate", "the certificate expired on \(Timestamp.format(Date(timeIntervalSince1970: Double(chain.notAfter))))")
        }
        let served: ServerCertificate
        do {
            served = try ServerCertificate(chain: chain, key: key)
        } catch {
            throw ValidationError("private_key", error.reason)
        }
        let summary = Self.refreshed(CertificateSummary(domain: domain, status: .valid, issuer: chain.issuer, notAfter: chain.notAfter,
                                                        source: source, notBefore: chain.notBefore), now: now)
        store.install(served, for: domain)
        summaries.withLock { $0[domain] = summary }
        return summary
    }

    /// Whether a certificate's names cover `domain`: the same name, or (for an exact domain) a
    /// wildcard one label above it.
    static func covers(_ names: [String], _ domain: String) -> Bool {
        if names.contains(domain) { return true }
        guard !domain.hasPrefix("*."), let dot = domain.firstIndex(of: ".") else { return false }
        return names.contains("*" + domain[dot...])
    }

    private static func refreshed(_ summary: CertificateSummary, now: Int) -> CertificateSummary {
        let status: CertificateSummary.Status
        if summary.notAfter <= now {
            status = .expired
        } else if summary.notAfter - now < warnDays * 86_400 {
            status = .expiring
        } else {
            status = .valid
        }
        return CertificateSummary(domain: summary.domain, status: status, issuer: summary.issuer, notAfter: summary.notAfter,
                                  source: summary.source, notBefore: summary.notBefore)
    }
}
