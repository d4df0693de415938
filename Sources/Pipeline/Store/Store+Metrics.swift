extension Store {
    /// Stored deployments by app and status: what `/metrics` counts of the history.
    public func deploymentCounts() throws -> [(app: String, status: String, count: Int)] {
        try database.read { conn in
            try conn.query("""
                SELECT apps.name, d.status, COUNT(*) FROM deployments d JOIN apps ON apps.id = d.app_id GROUP BY apps.name, d.status
                """).map { ($0.string(0), $0.string(1), $0.int(2)) }
        }
    }

    /// Stored webhook deliveries by app and result's kind (`accepted`, `ping`, `ignored`,
    /// `duplicate`, `rejected`; a result's reason is left out, so the kinds stay few).
    public func deliveryCounts() throws -> [(app: String, result: String, count: Int)] {
        try database.read { conn in
            try conn.query("""
                SELECT apps.name,
                       CASE WHEN instr(d.result, ':') > 0 THEN substr(d.result, 1, instr(d.result, ':') - 1) ELSE d.result END AS kind,
                       COUNT(*)
                FROM webhook_deliveries d JOIN apps ON apps.id = d.app_id GROUP BY apps.name, kind
                """).map { ($0.string(0), $0.string(1), $0.int(2)) }
        }
    }
}
