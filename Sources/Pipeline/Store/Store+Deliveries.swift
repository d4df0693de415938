/// A GitHub delivery as recorded: accepted, ignored, duplicate or rejected.
public struct WebhookDelivery: Sendable, Equatable {
    public var id: Int
    public var deliveryID: String?
    public var event: String?
    public var result: String
    public var deploymentID: Int?
    public var createdAt: String
}

extension Store {
    /// Claims a delivery id for this app. Returns false when it was already seen (a redelivery),
    /// which the partial unique index decides even for two copies arriving at once.
    public func claimDelivery(appID: Int, deliveryID: String, event: String) throws -> Int? {
        do {
            return try database.write { conn in
                try conn.execute("INSERT INTO webhook_deliveries (delivery_id, app_id, event, result, created_at) VALUES (?, ?, ?, 'processing', ?)",
                                 deliveryID, appID, event, Timestamp.now())
                return conn.lastInsertRowID
            }
        } catch let error as SQLiteError where error.isConstraintViolation {
            return nil
        }
    }

    public func finishDelivery(rowID: Int, result: String, deploymentID: Int?) throws {
        try database.write { try $0.execute("UPDATE webhook_deliveries SET result = ?, deployment_id = ? WHERE id = ?", result, deploymentID, rowID) }
    }

    /// Records a delivery that was not claimed: rejected ones and duplicates. Only the newest
    /// 200 such rows are kept per app, since anyone can send them.
    public func recordDelivery(appID: Int, deliveryID: String?, event: String?, result: String, deploymentID: Int? = nil) throws {
        try database.write { conn in
            try conn.execute("INSERT INTO webhook_deliveries (delivery_id, app_id, event, result, deployment_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                             deliveryID, appID, event, result, deploymentID, Timestamp.now())
            try conn.execute("""
                DELETE FROM webhook_deliveries WHERE app_id = ? AND (result LIKE 'rejected%' OR result LIKE 'duplicate%') AND id NOT IN
                (SELECT id FROM webhook_deliveries WHERE app_id = ? AND (result LIKE 'rejected%' OR result LIKE 'duplicate%') ORDER BY id DESC LIMIT 200)
                """, appID, appID)
        }
    }

    public func deliveryDeployment(deliveryID: String) throws -> Int? {
        try database.read { try $0.queryOne("SELECT deployment_id FROM webhook_deliveries WHERE delivery_id = ? AND result NOT LIKE 'rejected%' AND result NOT LIKE 'duplicate%'", deliveryID)?.optionalInt(0) }
    }

    /// Newest first.
    public func deliveries(appID: Int, limit: Int = 50) throws -> [WebhookDelivery] {
        try database.read {
            try $0.query("SELECT id, delivery_id, event, result, deployment_id, created_at FROM webhook_deliveries WHERE app_id = ? ORDER BY id DESC LIMIT ?", [appID, limit]).map {
                WebhookDelivery(id: $0.int(0), deliveryID: $0.optionalString(1), event: $0.optionalString(2), result: $0.string(3),
                                deploymentID: $0.optionalInt(4), createdAt: $0.string(5))
            }
        }
    }
}
