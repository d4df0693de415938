import SlipwaySystem

extension Store {
    /// Keeps the newest 200 lines per app (and server-wide).
    static let keptChanges = 200

    public func recordChange(appID: Int?, actor: AppChange.Actor, summary: String) throws {
        try database.write { conn in
            try conn.execute("INSERT INTO app_changes (app_id, at, actor, summary) VALUES (?, ?, ?, ?)", appID, Timestamp.now(), actor.rawValue, summary)
            if let appID {
                try conn.execute("""
                    DELETE FROM app_changes WHERE app_id = ? AND id NOT IN (SELECT id FROM app_changes WHERE app_id = ? ORDER BY id DESC LIMIT ?)
                    """, appID, appID, Self.keptChanges)
            } else {
                try conn.execute("""
                    DELETE FROM app_changes WHERE app_id IS NULL AND id NOT IN
                        (SELECT id FROM app_changes WHERE app_id IS NULL ORDER BY id DESC LIMIT ?)
                    """, Self.keptChanges)
            }
        }
    }

    /// Newest first.
    public func changes(appID: Int?, limit: Int) throws -> [AppChange] {
        try database.read { conn in
            let rows = try appID.map { try conn.query("SELECT at, actor, summary FROM app_changes WHERE app_id = ? ORDER BY id DESC LIMIT ?", $0, limit) }
                ?? conn.query("SELECT at, actor, summary FROM app_changes WHERE app_id IS NULL ORDER BY id DESC LIMIT ?", limit)
            return rows.map { AppChange(at: $0.string(0), actor: AppChange.Actor(rawValue: $0.string(1)) ?? .api, summary: $0.string(2)) }
        }
    }
}
