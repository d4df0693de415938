import SlipwaySystem

/// A GitHub delivery as recorded: accepted, ignored, duplicate or rejected.
public struct WebhookDelivery: Sendable, Equatable {
    public var id: Int
    public var deliveryID: String?
    public var event: String?
    public var result: DeliveryResult
    public var deploymentID: Int?
    public var createdAt: String
}

extension Store {
    /// Records a delivery that needs no deployment (ping, ignored, rejected payload); used in
    /// batches by `DeliveryRecorder`. A delivery id seen before fails the unique index.
    static let insertDeliverySQL = "INSERT INTO webhook_deliveries (delivery_id, app_id, event, kind, result, created_at) VALUES (?, ?, ?, ?, ?, ?)"

    /// Records an accepted push and its queued deployment in one transaction, so a delivery and
    /// its deployment exist together or not at all. nil when the delivery id was seen before.
    public func acceptPushDelivery(appID: Int, deliveryID: String?, sha: String, commitMessage: String?,
                                   commitAuthor: String?) throws -> Deployment? {
        do {
            return try database.write { conn in
                let now = Timestamp.now()
                try conn.execute("INSERT INTO webhook_deliveries (delivery_id, app_id, event, kind, result, created_at) VALUES (?, ?, 'push', 'accepted', 'accepted', ?)",
                                 deliveryID, appID, now)
                let deliveryRow = conn.lastInsertRowID
                try conn.execute("""
                    INSERT INTO deployments (app_id, status, trigger, ref, delivery_id, commit_message, commit_author, created_at)
                    VALUES (?, 'queued', 'webhook', ?, ?, ?, ?, ?)
                    """, appID, sha, deliveryID, commitMessage, commitAuthor, now)
                let id = conn.lastInsertRowID
                try conn.execute("UPDATE webhook_deliveries SET deployment_id = ? WHERE id = ?", id, deliveryRow)
                return try conn.queryOne("SELECT \(Self.deploymentColumns) \(Self.deploymentFrom) WHERE d.id = ?", id).map(Self.deployment)
            }
        } catch let error as SQLiteError where error.isUniqueViolation {
            return nil
        }
    }

    /// Records a duplicate at once (only signed deliveries get here: refusals of unsigned ones are
    /// counted in memory, never written). The pruner keeps the app's history bounded.
    public func recordDelivery(appID: Int, deliveryID: String?, event: String?, result: DeliveryResult, deploymentID: Int? = nil) throws {
        try database.write { conn in
            try conn.execute("INSERT INTO webhook_deliveries (delivery_id, app_id, event, kind, result, deployment_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             deliveryID, appID, event, result.kind.rawValue, result.text, deploymentID, Timestamp.now())
        }
        if deploymentID == nil { pruner.noteAdded([appID: 1]) }
    }

    public func deliveryDeployment(deliveryID: String) throws -> Int? {
        try database.read {
            try $0.queryOne("SELECT deployment_id FROM webhook_deliveries WHERE delivery_id = ? AND kind NOT IN ('rejected', 'duplicate')",
                            deliveryID)?.optionalInt(0)
        }
    }

    /// Newest first.
    public func deliveries(appID: Int, limit: Int = 50) throws -> [WebhookDelivery] {
        try database.read {
            try $0.query("SELECT id, delivery_id, event, kind, result, deployment_id, created_at FROM webhook_deliveries WHERE app_id = ? ORDER BY id DESC LIMIT ?", [appID, limit]).map {
                WebhookDelivery(id: $0.int(0), deliveryID: $0.optionalString(1), event: $0.optionalString(2),
                                result: DeliveryResult(kind: DeliveryResult.Kind(rawValue: $0.string(3)) ?? .accepted, text: $0.string(4)),
                                deploymentID: $0.optionalInt(5), createdAt: $0.string(6))
            }
        }
    }
}
