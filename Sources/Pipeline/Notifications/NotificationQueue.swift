import FoundationEssentials
import SlipwayCrypto
import SlipwaySystem

/// The front of the notification queue: turns what happened (a deployment finished, an app
/// crashed or came back) into one delivery per target that wants that event, its body rendered
/// now, stored in SQLite, and wakes the sender. Never in a deployment's way: an insert, and the
/// sending happens on the sender's thread (`NotificationSender`).
public final class NotificationQueue: Sendable {
    let store: Store
    /// The dashboard's base URL, for the links in each message.
    let publicURL: String
    let wake: EventSignal

    public init(store: Store, publicURL: String) throws {
        self.store = store
        self.publicURL = publicURL
        self.wake = try EventSignal()
    }

    /// After a deployment ended (`Deployer`).
    public func deploymentFinished(_ app: App, _ d: Deployment) {
        let event: NotificationEvent
        switch d.status {
        case .succeeded: event = d.trigger == .rollback ? .rollbackSucceeded : .deploymentSucceeded
        case .failed, .interrupted: event = .deploymentFailed
        case .cancelled: event = .deploymentCancelled
        case .skipped: event = .deploymentSkipped
        default: return
        }
        var fields: [(String, JSON)] = [
            ("deployment_id", .from(d.id)), ("status", .string(d.status.rawValue)), ("trigger", .string(d.trigger.rawValue)),
            ("commit", d.commitSHA.map(JSON.string) ?? .null), ("commit_message", d.commitMessage.map { .string(String($0.prefix(500))) } ?? .null),
            ("duration_ms", d.durationMilliseconds.map { .from($0) } ?? .null), ("error", d.error.map { .string(String($0.prefix(1000))) } ?? .null),
        ]
        fields.append(("urls", .object([("app", .string("\(publicURL)/apps/\(app.name)")),
                                        ("deployment", .string("\(publicURL)/deployments/\(d.id)"))])))
        let commit = d.commitSHA.map { " (commit \($0.prefix(7)))" } ?? ""
        let what: String
        switch event {
        case .rollbackSucceeded: what = "rolled back: deployment \(d.id) is live\(commit)"
        case .deploymentSucceeded: what = "deployment \(d.id) is live\(commit)"
        case .deploymentCancelled: what = "deployment \(d.id) was cancelled\(commit)"
        case .deploymentSkipped: what = "deployment \(d.id) was skipped\(commit): \(d.error ?? "")"
        default: what = "deployment \(d.id) failed\(commit): \(String((d.error ?? "").prefix(300)))"
        }
        enqueue(event, app: app, fields: fields, text: "\(app.name): \(what) \(publicURL)/deployments/\(d.id)")
    }

    /// The supervisor found the app's container stopped (crashed), or running again (recovered).
    public func appStatusChanged(_ app: App, crashed: Bool) {
        let event: NotificationEvent = crashed ? .appCrashed : .appRecovered
        enqueue(event, app: app, fields: [("urls", .object([("app", .string("\(publicURL)/apps/\(app.name)"))]))],
                text: "\(app.name): " + (crashed ? "its container stopped; Slipway is bringing it back" : "running again") + " \(publicURL)/apps/\(app.name)")
    }

    /// A certificate order for one of the app's domains failed (ACME), or one of its certificates
    /// is close to its end.
    public func certificate(_ app: App, domain: String, failed error: String?) {
        let event: NotificationEvent = error == nil ? .certificateExpiring : .certificateFailed
        enqueue(event, app: app, fields: [("domain", .string(domain)), ("error", error.map { .string(String($0.prefix(1000))) } ?? .null)],
                text: "\(app.name): " + (error.map { "no certificate for \(domain): \($0.prefix(300))" } ?? "the certificate of \(domain) expires soon"))
    }

    /// A test message to one target, whatever events it chose; returns its delivery id.
    public func sendTest(to target: NotificationTarget, app: App?) throws -> String {
        let id = Self.newDeliveryID()
        try store.enqueueNotifications([(target.id, id, NotificationEvent.test.rawValue,
                                         Self.body(target.kind, event: .test, deliveryID: id, app: app, fields: [],
                                                   text: "Test from Slipway" + (app.map { " for \($0.name)" } ?? "") + ": this target works."))],
                                       now: Self.now())
        wake.signal()
        return id
    }

    private func enqueue(_ event: NotificationEvent, app: App, fields: [(String, JSON)], text: String) {
        Log.attempt("app \(app.name): queueing \(event.rawValue) notifications") {
            let targets = try store.notificationTargets(appID: app.id) + store.notificationTargets(appID: nil)
            let deliveries = targets.filter { $0.events.contains(event) }.map { target -> (Int, String, String, String) in
                let id = Self.newDeliveryID()
                return (target.id, id, event.rawValue, Self.body(target.kind, event: event, deliveryID: id, app: app, fields: fields, text: text))
            }
            guard !deliveries.isEmpty else { return }
            try store.enqueueNotifications(deliveries.map { ($0.0, $0.1, $0.2, $0.3) }, now: Self.now())
            wake.signal()
        }
    }

    /// The webhook's JSON (`event`, `delivery_id`, `app`, the event's fields, `timestamp`), or
    /// Slack's incoming-webhook JSON (`text`, which Mattermost, Rocket.Chat and Discord's `/slack`
    /// endpoint read too).
    static func body(_ kind: NotificationTarget.Kind, event: NotificationEvent, deliveryID: String, app: App?, fields: [(String, JSON)],
                     text: String) -> String {
        switch kind {
        case .webhook:
            let head: [(String, JSON)] = [("event", .string(event.rawValue)), ("delivery_id", .string(deliveryID)),
                                          ("app", app.map { .string($0.name) } ?? .null)]
            return JSON.object(head + fields + [("timestamp", .string(Timestamp.now()))]).serialized()
        case .slack:
            return JSON.object([("text", .string(text)), ("username", .string("Slipway"))]).serialized()
        }
    }

    static func newDeliveryID() -> String {
        let bytes = Crypto.randomBytes(16)
        let hex = bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
        return [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
            .map(String.init).joined(separator: "-")
    }

    static func now() -> Int { Int(Date().timeIntervalSince1970) }
}

private extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
