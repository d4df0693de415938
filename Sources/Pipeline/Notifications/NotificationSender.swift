import FoundationEssentials
import SlipwayCrypto
import SlipwaySystem
import Synchronization

/// Where a delivery is posted: Slipway's one outbound client in production (`HTTPSClient`), a
/// fake in the tests of the queue's logic.
public protocol NotificationTransport: Sendable {
    /// POSTs `body` to `url`; returns the receiver's HTTP status, or throws when none came.
    func post(_ url: String, headers: [(String, String)], body: [UInt8]) throws -> Int
}

/// The back of the notification queue: one thread that sends what is due, oldest first, and
/// records every attempt. A receiver that fails (no answer, or not 2xx) is tried again after a
/// backoff that doubles from `retrySeconds` to an hour, for a day from when the event happened;
/// then the delivery is given up (`failed`). The queue is in SQLite, so what was not sent when
/// Slipway stopped (or was killed) goes out after the next start: at least once, with the same
/// delivery id each time.
///
/// A webhook target's body is signed as GitHub signs its deliveries:
/// `X-Slipway-Signature-256: sha256=<HMAC-SHA256 of the body with the target's secret>`, beside
/// `X-Slipway-Event` and `X-Slipway-Delivery`.
public final class NotificationSender: Sendable {
    let queue: NotificationQueue
    let transport: any NotificationTransport
    let retrySeconds: Int
    static let giveUpAfterSeconds = 86_400
    static let batch = 20
    private let stopped = Atomic<Bool>(false)

    public init(queue: NotificationQueue, transport: any NotificationTransport, retrySeconds: Int) {
        self.queue = queue
        self.transport = transport
        self.retrySeconds = max(1, retrySeconds)
    }

    public func start() {
        OSThread.detach(name: "notifications") { [self] in run() }
    }

    public func stop() {
        stopped.store(true, ordering: .relaxed)
        queue.wake.signal()
    }

    private func run() {
        while !stopped.load(ordering: .relaxed) {
            var sent = 0
            Log.attempt("notifications: sending what is due") { sent = try sendDue() }
            if sent > 0 { continue }
            let next = (try? queue.store.nextNotificationDue()) ?? nil
            let now = NotificationQueue.now()
            let wait = next.map { max(0, min($0 - now, 60)) } ?? 60
            if wait > 0 { queue.wake.wait(timeoutMilliseconds: wait * 1000) }
        }
    }

    /// Sends up to a batch of due deliveries; returns how many were tried.
    func sendDue() throws -> Int {
        let due = try queue.store.dueNotifications(now: NotificationQueue.now(), limit: Self.batch)
        for delivery in due where !stopped.load(ordering: .relaxed) { try send(delivery) }
        return due.count
    }

    private func send(_ delivery: PendingNotification) throws {
        let body = Array(delivery.body.utf8)
        var headers = [("Content-Type", "application/json"), ("X-Slipway-Event", delivery.event), ("X-Slipway-Delivery", delivery.deliveryID)]
        if delivery.target.kind == .webhook, let secret = delivery.target.secret {
            let mac = Crypto.hmacSHA256(key: Array(secret.utf8), message: body)
            headers.append(("X-Slipway-Signature-256", "sha256=" + mac.map { String(format2: $0) }.joined()))
        }
        let started = monotonicMilliseconds()
        var status: Int?
        var failure: String?
        do {
            status = try transport.post(delivery.target.url, headers: headers, body: body)
            if let status, !(200...299).contains(status) { failure = "the receiver answered \(status)" }
        } catch {
            failure = String(describing: error)
        }
        let latency = monotonicMilliseconds() - started
        let now = NotificationQueue.now()
        var next: Int?
        if failure != nil {
            let wait = min(retrySeconds << min(delivery.attempts, 20), 3600)
            if now + wait - delivery.queuedAt <= Self.giveUpAfterSeconds { next = now + wait }
            Log.warning("notification \(delivery.deliveryID) (\(delivery.event)) to target \(delivery.target.id): \(failure!)"
                        + (next == nil ? "; given up after a day" : "; tried again in \(wait) s"))
        }
        try queue.store.recordNotificationAttempt(delivery, status: status, latencyMilliseconds: latency, error: failure,
                                                  succeeded: failure == nil, next: next)
    }
}

private extension String {
    init(format2 byte: UInt8) {
        let hex = String(byte, radix: 16)
        self = hex.count == 1 ? "0" + hex : hex
    }
}
