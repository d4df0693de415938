import FoundationEssentials
import SlipwaySystem
import Synchronization

/// Sends `certificate.expiring` for each app's domain whose certificate is within
/// `UploadedCertificates.warnDays` of its end (or past it): uploaded certificates renew only by
/// hand. ACME's renew by themselves a third of their lifetime before the end, so one of theirs is
/// told about only when it is still there a week before (its renewal keeps failing, and
/// `certificate.failed` said so already). Looked at when Slipway starts, after a certificate
/// changes (`check`), and every hour; each certificate (domain and end) is told about once per run.
public final class CertificateExpiryWatch: Sendable {
    let certificates: UploadedCertificates
    let store: Store
    let notifications: NotificationQueue
    private let told = Mutex<Set<String>>([])
    private let wake: EventSignal

    public init(certificates: UploadedCertificates, store: Store, notifications: NotificationQueue) throws {
        self.certificates = certificates
        self.store = store
        self.notifications = notifications
        self.wake = try EventSignal()
    }

    public func start() {
        OSThread.detach(name: "cert-expiry") { [self] in
            while true {
                Log.attempt("certificates: looking for ones close to their end") { try look() }
                wake.wait(timeoutMilliseconds: 3_600_000)
            }
        }
    }

    /// Looks again now (a certificate was uploaded or issued).
    public func check() { wake.signal() }

    func look(now: Int = Int(Date().timeIntervalSince1970)) throws {
        for app in try store.apps() {
            for summary in certificates.summaries(for: app.domains.map(\.value), now: now) where summary.notAfter > 0 {
                let left = summary.notAfter - now
                let due = summary.source == "acme" ? left < 7 * 86_400 : left < UploadedCertificates.warnDays * 86_400
                guard due else { continue }
                let key = "\(summary.domain)@\(summary.notAfter)"
                guard told.withLock({ $0.insert(key).inserted }) else { continue }
                notifications.certificate(app, domain: summary.domain, failed: nil)
            }
        }
    }
}
