import SlipwaySystem
import SlipwayTLS

/// The notification targets: an app's, and the server-wide ones that hear about every app.
/// Everything given is checked before anything is stored; a webhook target gets a secret of its
/// own, returned once, when it is added.
public struct NotificationSettings: Sendable {
    public let store: Store
    public static let maxTargets = 20
    public static let maxURLBytes = 2048

    public init(store: Store) {
        self.store = store
    }

    /// A target as given by the API or a form, before it is checked.
    public struct Input: Sendable {
        public var id: Int?
        public var type: String
        public var url: String
        public var events: [String]

        public init(id: Int? = nil, type: String, url: String, events: [String]) {
            self.id = id
            self.type = type
            self.url = url
            self.events = events
        }
    }

    /// Checks a target's type, URL (http:// or https://, a host name and path, no user info)
    /// and events (at least one, each one of `NotificationEvent.choosable`).
    public static func check(_ input: Input) throws(ValidationError) -> (NotificationTarget.Kind, String, [NotificationEvent]) {
        guard let kind = NotificationTarget.Kind(rawValue: input.type) else {
            throw ValidationError("type", "type must be webhook or slack, got \(input.type.prefix(40).debugDescription)")
        }
        guard input.url.utf8.count <= maxURLBytes else { throw ValidationError("url", "url is longer than \(maxURLBytes) bytes") }
        do {
            _ = try HTTPSClient.parse(input.url, allowingHTTP: true)
        } catch {
            throw ValidationError("url", "url: \(error.reason): \(input.url.prefix(200).debugDescription)")
        }
        guard !input.events.isEmpty else {
            throw ValidationError("events", "events: choose at least one of " + NotificationEvent.choosable.map(\.rawValue).joined(separator: ", "))
        }
        var events: [NotificationEvent] = []
        for name in input.events {
            guard let event = NotificationEvent(rawValue: name), event != .test else {
                throw ValidationError("events", "events: \(name.prefix(60).debugDescription) is not an event; they are "
                                      + NotificationEvent.choosable.map(\.rawValue).joined(separator: ", "))
            }
            if !events.contains(event) { events.append(event) }
        }
        return (kind, input.url, events)
    }

    /// Adds a target to an app (or server-wide, with nil); the result carries the new secret.
    public func add(appID: Int?, _ input: Input, actor: AppChange.Actor = .api) throws -> NotificationTarget {
        let (kind, url, events) = try Self.check(input)
        guard try store.notificationTargets(appID: appID).count < Self.maxTargets else {
            throw ValidationError("notifications", "at most \(Self.maxTargets) notification targets" + (appID == nil ? " server-wide" : " per app"))
        }
        let target = try store.addNotificationTarget(appID: appID, kind: kind, url: url, events: events,
                                                     secret: kind == .webhook ? Secrets.newWebhookSecret() : nil)
        try store.recordChange(appID: appID, actor: actor, summary: "notifications: added \(kind.rawValue) target \(target.id) for "
                               + events.map(\.rawValue).joined(separator: ", "))
        return target
    }

    public func remove(_ target: NotificationTarget, actor: AppChange.Actor = .api) throws {
        try store.removeNotificationTarget(id: target.id)
        try store.recordChange(appID: target.appID, actor: actor, summary: "notifications: removed \(target.kind.rawValue) target \(target.id)")
    }

    /// Replaces the server-wide list: an entry with the `id` of a target keeps it (and its
    /// secret) with the URL and events given, one without is added, and a target left out is
    /// removed. Returns the list, the added ones with their secrets.
    public func replaceServerWide(_ inputs: [Input]) throws -> [NotificationTarget] {
        guard inputs.count <= Self.maxTargets else {
            throw ValidationError("notifications", "at most \(Self.maxTargets) notification targets server-wide, got \(inputs.count)")
        }
        let current = try store.notificationTargets(appID: nil)
        var checked: [(Input, NotificationTarget.Kind, String, [NotificationEvent])] = []
        for input in inputs {
            let (kind, url, events) = try Self.check(input)
            if let id = input.id {
                guard let existing = current.first(where: { $0.id == id }) else {
                    throw ValidationError("id", "id: no server-wide notification target \(id)")
                }
                guard existing.kind == kind else { throw ValidationError("type", "type: target \(id) is a \(existing.kind.rawValue) target; add a new one instead") }
            }
            checked.append((input, kind, url, events))
        }
        var result: [NotificationTarget] = []
        let kept = Set(inputs.compactMap(\.id))
        for target in current where !kept.contains(target.id) { try remove(target) }
        for (input, kind, url, events) in checked {
            if let id = input.id {
                try store.updateNotificationTarget(id: id, url: url, events: events)
                try store.recordChange(appID: nil, actor: .api, summary: "notifications: set target \(id) to "
                                       + events.map(\.rawValue).joined(separator: ", "))
                if var target = try store.notificationTarget(id: id) {
                    target.secret = nil
                    result.append(target)
                }
            } else {
                let target = try store.addNotificationTarget(appID: nil, kind: kind, url: url, events: events,
                                                             secret: kind == .webhook ? Secrets.newWebhookSecret() : nil)
                try store.recordChange(appID: nil, actor: .api, summary: "notifications: added \(kind.rawValue) target \(target.id) for "
                                       + events.map(\.rawValue).joined(separator: ", "))
                result.append(target)
            }
        }
        return result
    }
}
