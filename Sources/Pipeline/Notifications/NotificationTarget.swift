/// Where notifications go: a generic webhook (JSON signed with the target's own secret, as
/// GitHub signs its deliveries) or a Slack-compatible incoming webhook (Slack, Mattermost,
/// Rocket.Chat, Discord's `/slack` endpoint).
public struct NotificationTarget: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case webhook
        case slack
    }

    public var id: Int
    /// nil for a server-wide target, told about every app.
    public var appID: Int?
    public var kind: Kind
    public var url: String
    public var events: [NotificationEvent]
    /// A webhook target's signing key; shown once, when the target is added.
    public var secret: String?
    public var createdAt: String

    public init(id: Int, appID: Int?, kind: Kind, url: String, events: [NotificationEvent], secret: String?, createdAt: String) {
        self.id = id
        self.appID = appID
        self.kind = kind
        self.url = url
        self.events = events
        self.secret = secret
        self.createdAt = createdAt
    }
}

/// One try at sending a delivery, as the target's history shows it.
public struct NotificationAttempt: Sendable, Equatable {
    public var deliveryID: String
    public var event: String
    public var at: String
    /// The receiver's HTTP status; nil when none came (refused, timed out).
    public var status: Int?
    public var latencyMilliseconds: Int
    public var error: String?
}
