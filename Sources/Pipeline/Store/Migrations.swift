import SlipwaySystem

/// Schema versions, applied in order and recorded in PRAGMA user_version.
enum Migrations {
    static let all: [@Sendable (Connection) throws -> Void] = [v1, v2, v3, v4, v5]

    static func apply(to database: Database) throws {
        try database.write { conn in
            let current = try conn.queryOne("PRAGMA user_version")?.int(0) ?? 0
            guard current < all.count else { return }
            for version in current..<all.count {
                try all[version](conn)
            }
            // PRAGMA takes no bound parameters; the value is our own integer.
            try conn.execute("PRAGMA user_version = \(all.count)")
        }
    }

    private static func v1(_ conn: Connection) throws {
        try conn.execute("""
        CREATE TABLE apps (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            repo_url TEXT NOT NULL,
            branch TEXT NOT NULL DEFAULT 'main',
            port INTEGER NOT NULL UNIQUE,
            internal_port INTEGER NOT NULL DEFAULT 5000,
            health_path TEXT NOT NULL DEFAULT '/',
            memory_mb INTEGER,
            cpus REAL,
            webhook_secret TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'new',
            live_deployment_id INTEGER,
            container_id TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE deployments (
            id INTEGER PRIMARY KEY,
            app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
            status TEXT NOT NULL,
            trigger TEXT NOT NULL,
            ref TEXT,
            commit_sha TEXT,
            commit_message TEXT,
            commit_author TEXT,
            image TEXT,
            container_id TEXT,
            source_deployment_id INTEGER REFERENCES deployments(id) ON DELETE SET NULL,
            delivery_id TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            steps TEXT NOT NULL DEFAULT '{}',
            log_path TEXT
        );
        CREATE INDEX deployments_by_app ON deployments(app_id, id);
        CREATE INDEX deployments_by_status ON deployments(status);
        CREATE TABLE webhook_deliveries (
            id INTEGER PRIMARY KEY,
            delivery_id TEXT,
            app_id INTEGER REFERENCES apps(id) ON DELETE CASCADE,
            event TEXT,
            result TEXT NOT NULL,
            deployment_id INTEGER REFERENCES deployments(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL
        );
        -- Rejected deliveries are recorded too, and anyone can send those, so only deliveries that
        -- passed the signature check must be unique.
        CREATE UNIQUE INDEX webhook_deliveries_unique ON webhook_deliveries(delivery_id)
            WHERE result NOT LIKE 'rejected%' AND result NOT LIKE 'duplicate%';
        CREATE TABLE env_vars (
            app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (app_id, name)
        );
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """)
        try importSeedApps(conn)
    }

    /// Deploy credentials for private repositories, and a token for GitHub commit statuses.
    private static func v2(_ conn: Connection) throws {
        try conn.execute("""
        ALTER TABLE apps ADD COLUMN git_token TEXT;
        ALTER TABLE apps ADD COLUMN deploy_key_public TEXT;
        ALTER TABLE apps ADD COLUMN github_token TEXT;
        """)
    }

    /// Indexes on the remaining foreign-key columns: without them, deleting an app scanned the
    /// child tables once per deleted row (5.8 s for 5,000 deployments; see BENCHMARKS.md).
    private static func v3(_ conn: Connection) throws {
        try conn.execute("""
        CREATE INDEX deployments_by_source ON deployments(source_deployment_id);
        CREATE INDEX webhook_deliveries_by_deployment ON webhook_deliveries(deployment_id);
        CREATE INDEX webhook_deliveries_by_app ON webhook_deliveries(app_id, id);
        """)
    }

    /// Most deliveries (ignored pushes, pings, rejections) have no deployment, and every one of
    /// them wrote a page of this index at commit, a quarter of a delivery's WAL writes. Lookups
    /// by deployment (`deployment_id = ?`, and the foreign key's ON DELETE) still use it.
    private static func v4(_ conn: Connection) throws {
        try conn.execute("""
        DROP INDEX webhook_deliveries_by_deployment;
        CREATE INDEX webhook_deliveries_by_deployment ON webhook_deliveries(deployment_id) WHERE deployment_id IS NOT NULL;
        """)
    }

    /// A delivery's kind in a column of its own, so queries and the unique index stop matching
    /// the shown text with LIKE 'rejected%'. The text stays as it was shown.
    private static func v5(_ conn: Connection) throws {
        try conn.execute("""
        ALTER TABLE webhook_deliveries ADD COLUMN kind TEXT NOT NULL DEFAULT 'accepted';
        UPDATE webhook_deliveries SET kind = CASE
            WHEN result LIKE 'rejected%' THEN 'rejected'
            WHEN result LIKE 'duplicate%' THEN 'duplicate'
            WHEN result LIKE 'ignored%' THEN 'ignored'
            WHEN result = 'ping' THEN 'ping'
            ELSE 'accepted' END;
        DROP INDEX webhook_deliveries_unique;
        -- Anyone can send a rejected delivery, so only deliveries that passed the signature check
        -- must be unique.
        CREATE UNIQUE INDEX webhook_deliveries_unique ON webhook_deliveries(delivery_id) WHERE kind NOT IN ('rejected', 'duplicate');
        """)
    }

    /// The seed kept its apps in `deployed_apps`; carry every row over so no app is lost. The old
    /// table stays untouched, as a record of what was imported.
    private static func importSeedApps(_ conn: Connection) throws {
        let exists = try conn.queryOne("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deployed_apps'")
        guard exists != nil else { return }
        let rows = try conn.query("SELECT id, app_name, github_url, status, port, container_id, created_at FROM deployed_apps ORDER BY id")
        var usedNames = Set<String>()
        var usedPorts = Set<Int>()
        for row in rows {
            var name = AppName.derive(from: row.string(1).isEmpty ? row.string(2) : row.string(1))
            if usedNames.contains(name) { name = String(name.prefix(30)) + "-\(row.int(0))" }
            usedNames.insert(name)
            var port = row.int(4)
            // A seed row without a usable port gets a placeholder far outside any app range until
            // the next deployment gives it a real one; UNIQUE must still hold.
            if port <= 0 || usedPorts.contains(port) { port = 100_000 + row.int(0) }
            usedPorts.insert(port)
            let status: String
            switch row.string(3).lowercased() {
            case "running", "körs", "kors": status = "running"
            case "stopped", "stoppad": status = "stopped"
            case "error", "fel", "failed": status = "failed"
            default: status = "new"
            }
            let created = row.optionalString(6).flatMap { Timestamp.parseSQLite($0) } ?? Timestamp.now()
            try conn.execute("""
                INSERT INTO apps (name, repo_url, branch, port, webhook_secret, status, container_id, created_at)
                VALUES (?, ?, 'main', ?, ?, ?, ?, ?)
                """, name, row.string(2), port, Secrets.newWebhookSecret(), status, row.optionalString(5), created)
        }
    }
}
