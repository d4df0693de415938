import SlipwaySystem

/// A delivery waiting in the queue, as the sender takes it.
public struct PendingNotification: Sendable, Equatable {
    public var id: Int
    public var target: NotificationTarget
    public var deliveryID: String
    public var event: String
    public var body: String
    public var attempts: Int
    /// When it was queued, seconds since 1970: retries end a day after.
    public var queuedAt: Int
}

extension Store {
    // MARK: targets

    public func notificationTargets(appID: Int?) throws -> [NotificationTarget] {
        try database.read { conn in
            let rows: [Row]
            if let appID {
                rows = try conn.query("SELECT \(Self.targetColumns) FROM notification_targets WHERE app_id = ? ORDER BY id", appID)
            } else {
                rows = try conn.query("SELECT \(Self.targetColumns) FROM notification_targets WHERE app_id IS NULL ORDER BY id")
            }
            return rows.map(Self.target)
        }
    }

    public func notificationTarget(id: Int) throws -> NotificationTarget? {
        try database.read { try $0.queryOne("SELECT \(Self.targetColumns) FROM notification_targets WHERE id = ?", id).map(Self.target) }
    }

    public func addNotificationTarget(appID: Int?, kind: NotificationTarget.Kind, url: String, events: [NotificationEvent],
                                      secret: String?) throws -> NotificationTarget {
        try database.write { conn in
            try conn.execute("INSERT INTO notification_targets (app_id, kind, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                             appID, kind.rawValue, url, events.map(\.rawValue).joined(separator: ","), secret, Timestamp.now())
            return Self.target(try conn.queryOne("SELECT \(Self.targetColumns) FROM notification_targets WHERE id = ?", conn.lastInsertRowID)!)
        }
    }

    /// Changes a target's URL and events; its secret stays.
    public func updateNotificationTarget(id: Int, url: String, events: [NotificationEvent]) throws {
        try database.write { try $0.execute("UPDATE notification_targets SET url = ?, events = ? WHERE id = ?", url,
                                            events.map(\.rawValue).joined(separator: ","), id) }
    }

    /// Its queued deliveries and their history go with it.
    public func removeNotificationTarget(id: Int) throws {
        try database.write { try $0.execute("DELETE FROM notification_targets WHERE id = ?", id) }
    }

    static let targetColumns = "id, app_id, kind, url, events, secret, created_at"

    static func target(_ row: Row) -> NotificationTarget {
        NotificationTarget(id: row.int(0), appID: row.optionalInt(1), kind: NotificationTarget.Kind(rawValue: row.string(2)) ?? .webhook,
                           url: row.string(3), events: row.string(4).split(separator: ",").compactMap { NotificationEvent(rawValue: String($0)) },
                           secret: row.optionalString(5), createdAt: row.string(6))
    }

    // MARK: the queue

    /// Queues one delivery per target, in one transaction.
    public func enqueueNotifications(_ deliveries: [(targetID: Int, deliveryID: String, event: String, body: String)], now: Int) throws {
        guard !deliveries.isEmpty else { return }
        try database.write { conn in
            for d in deliveries {
                try conn.execute("""
                    INSERT INTO notification_deliveries (target_id, delivery_id, event, body, next_attempt_at, created_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """, d.targetID, d.deliveryID, d.event, d.body, now, now)
            }
        }
    }

    /// Deliveries due now, oldest first, at most `limit`.
    public func dueNotifications(now: Int, limit: Int) throws -> [PendingNotification] {
        try database.read { conn in
            try conn.query("""
                SELECT d.id, d.delivery_id, d.event, d.body, d.attempts, d.created_at,
                       t.id, t.app_id, t.kind, t.url, t.events, t.secret, t.created_at
                FROM notification_deliveries d JOIN notification_targets t ON t.id = d.target_id
                WHERE d.state = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT ?
                """, now, limit).map { row in
                let target = NotificationTarget(id: row.int(6), appID: row.optionalInt(7), kind: NotificationTarget.Kind(rawValue: row.string(8)) ?? .webhook,
                                                url: row.string(9), events: [], secret: row.optionalString(11), createdAt: row.string(12))
                return PendingNotification(id: row.int(0), target: target, deliveryID: row.string(1), event: row.string(2), body: row.string(3),
                                           attempts: row.int(4), queuedAt: row.int(5))
            }
        }
    }

    /// The soonest time a pending delivery is due, to sleep until.
    public func nextNotificationDue() throws -> Int? {
        try database.read { try $0.queryOne("SELECT MIN(next_attempt_at) FROM notification_deliveries WHERE state = 'pending'")?.optionalInt(0) }
    }

    /// Records one try; `next` nil ends the delivery (`sent` when it succeeded, `failed` when
    /// retries are over). Keeps the newest 100 finished deliveries of the target.
    public func recordNotificationAttempt(_ delivery: PendingNotification, status: Int?, latencyMilliseconds: Int, error: String?,
                                          succeeded: Bool, next: Int?) throws {
        try database.write { conn in
            try conn.execute("INSERT INTO notification_attempts (delivery_id, target_id, at, status, latency_ms, error) VALUES (?, ?, ?, ?, ?, ?)",
                             delivery.id, delivery.target.id, Timestamp.now(), status, latencyMilliseconds, error)
            let state = succeeded ? "sent" : next == nil ? "failed" : "pending"
            try conn.execute("UPDATE notification_deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = ? WHERE id = ?",
                             state, next ?? 0, delivery.id)
            if state != "pending" {
                try conn.execute("""
                    DELETE FROM notification_deliveries WHERE target_id = ? AND state <> 'pending' AND id NOT IN
                        (SELECT id FROM notification_deliveries WHERE target_id = ? AND state <> 'pending' ORDER BY id DESC LIMIT 100)
                    """, delivery.target.id, delivery.target.id)
            }
        }
    }

    /// The target's newest attempts, newest first.
    public func notificationAttempts(targetID: Int, limit: Int) throws -> [NotificationAttempt] {
        try database.read { conn in
            try conn.query("""
                SELECT d.delivery_id, d.event, a.at, a.status, a.latency_ms, a.error
                FROM notification_attempts a JOIN notification_deliveries d ON d.id = a.delivery_id
                WHERE a.target_id = ? ORDER BY a.id DESC LIMIT ?
                """, targetID, limit).map {
                NotificationAttempt(deliveryID: $0.string(0), event: $0.string(1), at: $0.string(2), status: $0.optionalInt(3),
                                    latencyMilliseconds: $0.int(4), error: $0.optionalString(5))
            }
        }
    }

    /// Deliveries of the target still waiting (a receiver that is down).
    public func pendingNotificationCount(targetID: Int) throws -> Int {
        try database.read { try $0.queryOne("SELECT COUNT(*) FROM notification_deliveries WHERE target_id = ? AND state = 'pending'", targetID)?.int(0) ?? 0 }
    }
}
