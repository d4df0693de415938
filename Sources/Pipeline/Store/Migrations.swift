import CSQLite
import SlipwaySystem

/// Schema versions, applied in order and recorded in PRAGMA user_version.
enum Migrations {
    static let all: [@Sendable (Connection) throws -> Void] = [v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15]

    /// Brings the schema to `target` (all of it, but for tests of a migration).
    ///
    /// Foreign keys are off while migrations run, as SQLite's guide to changing a table's schema
    /// says (lang_altertable.html, section 7): rebuilding a table drops the old one, and with
    /// them on, that DROP would cascade to every row referring to it. They can only be switched
    /// outside a transaction, so around it; inside, `foreign_key_check` must find nothing
    /// broken before anything is committed.
    static func apply(to database: Database, through target: Int = all.count) throws {
        let current = try database.read { try $0.queryOne("PRAGMA user_version")?.int(0) ?? 0 }
        guard current < target else { return }
        try database.read { try $0.execute("PRAGMA foreign_keys = OFF") }
        let migrated = Result {
            try database.write { conn in
                for version in current..<target {
                    try all[version](conn)
                }
                if let broken = try conn.query("PRAGMA foreign_key_check").first {
                    // SQLITE_CONSTRAINT_FOREIGNKEY, whose macro Swift does not import.
                    throw SQLiteError(code: 787,
                                      message: "a row of \(broken.string(0)) refers to a missing row of \(broken.string(2))",
                                      sql: "PRAGMA foreign_key_check")
                }
                // PRAGMA takes no bound parameters; the value is our own integer.
                try conn.execute("PRAGMA user_version = \(target)")
            }
        }
        try database.read { conn in
            try conn.execute("PRAGMA foreign_keys = ON")
            guard try conn.queryOne("PRAGMA foreign_keys")?.int(0) == 1 else {
                throw SQLiteError(code: SQLITE_ERROR, message: "foreign keys could not be enabled again", sql: "PRAGMA foreign_keys")
            }
        }
        try migrated.get()
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

    /// The host names each app is served at. One row per name, so a name belongs to one app;
    /// `position` keeps the user's order (the first exact name is the app's URL). Names are
    /// stored lowercase, as the edge looks them up.
    private static func v6(_ conn: Connection) throws {
        try conn.execute("""
        CREATE TABLE domains (
            name TEXT NOT NULL UNIQUE CHECK (name <> '' AND name = lower(name)),
            app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
            position INTEGER NOT NULL
        );
        -- The app's names in order, and the index ON DELETE CASCADE needs (see v3).
        CREATE UNIQUE INDEX domains_by_app ON domains(app_id, position);
        """)
    }

    /// apps.port may be NULL: under `--app-ports off` an app has no port. SQLite cannot drop a
    /// NOT NULL in place, so the table is rebuilt with the same columns in the same order and
    /// every row copied, ids included, so nothing that refers to an app changes (`apply` has
    /// foreign keys off meanwhile, and checks them before committing).
    private static func v7(_ conn: Connection) throws {
        let columns = "id, name, repo_url, branch, port, internal_port, health_path, memory_mb, cpus, webhook_secret, status, "
            + "live_deployment_id, container_id, created_at, git_token, deploy_key_public, github_token"
        try conn.execute("""
        CREATE TABLE apps_v7 (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            repo_url TEXT NOT NULL,
            branch TEXT NOT NULL DEFAULT 'main',
            port INTEGER UNIQUE,
            internal_port INTEGER NOT NULL DEFAULT 5000,
            health_path TEXT NOT NULL DEFAULT '/',
            memory_mb INTEGER,
            cpus REAL,
            webhook_secret TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'new',
            live_deployment_id INTEGER,
            container_id TEXT,
            created_at TEXT NOT NULL,
            git_token TEXT,
            deploy_key_public TEXT,
            github_token TEXT
        );
        INSERT INTO apps_v7 (\(columns)) SELECT \(columns) FROM apps;
        DROP TABLE apps;
        ALTER TABLE apps_v7 RENAME TO apps;
        """)
    }

    /// An app's own limit on request bodies through the HTTP edge. NULL, which every existing
    /// row gets, is the server's `--max-request-body`, so nothing changes for them.
    private static func v8(_ conn: Connection) throws {
        try conn.execute("ALTER TABLE apps ADD COLUMN max_request_body INTEGER")
    }

    /// Whether the HTTP edge sends an app's clients to HTTPS once its domain has a certificate:
    /// on for every app, as Caddy and kamal-proxy do; an app turns it off to keep plain HTTP.
    private static func v9(_ conn: Connection) throws {
        try conn.execute("ALTER TABLE apps ADD COLUMN https_redirect INTEGER NOT NULL DEFAULT 1")
    }

    /// HSTS on an app's HTTPS answers: opt-in, off for every app (a browser that saw it refuses
    /// plain HTTP to that name for a year, which a user must choose).
    private static func v10(_ conn: Connection) throws {
        try conn.execute("ALTER TABLE apps ADD COLUMN hsts INTEGER NOT NULL DEFAULT 0")
    }

    /// Each app's named volumes, in the order the user gave them; the Docker volumes themselves
    /// are the engine's and outlive these rows (a deleted app's are kept unless asked).
    private static func v11(_ conn: Connection) throws {
        try conn.execute("""
        CREATE TABLE volumes (
            app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            path TEXT NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (app_id, name),
            UNIQUE (app_id, path)
        )
        """)
    }

    /// Containers run under an init process unless the app opts out; a stop timeout of its own
    /// (null: the server's).
    private static func v12(_ conn: Connection) throws {
        try conn.execute("ALTER TABLE apps ADD COLUMN init INTEGER NOT NULL DEFAULT 1")
        try conn.execute("ALTER TABLE apps ADD COLUMN stop_timeout INTEGER")
    }

    /// Notification targets (an app's, or server-wide with no app), the queue of deliveries the
    /// sender works through, and each attempt.
    private static func v13(_ conn: Connection) throws {
        try conn.execute("""
        CREATE TABLE notification_targets (
            id INTEGER PRIMARY KEY,
            app_id INTEGER REFERENCES apps(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            url TEXT NOT NULL,
            events TEXT NOT NULL,
            secret TEXT,
            created_at TEXT NOT NULL
        )
        """)
        try conn.execute("""
        CREATE TABLE notification_deliveries (
            id INTEGER PRIMARY KEY,
            target_id INTEGER NOT NULL REFERENCES notification_targets(id) ON DELETE CASCADE,
            delivery_id TEXT NOT NULL,
            event TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        )
        """)
        try conn.execute("CREATE INDEX notification_deliveries_due ON notification_deliveries (state, next_attempt_at)")
        try conn.execute("""
        CREATE TABLE notification_attempts (
            id INTEGER PRIMARY KEY,
            delivery_id INTEGER NOT NULL REFERENCES notification_deliveries(id) ON DELETE CASCADE,
            target_id INTEGER NOT NULL,
            at TEXT NOT NULL,
            status INTEGER,
            latency_ms INTEGER NOT NULL,
            error TEXT
        )
        """)
        try conn.execute("CREATE INDEX notification_attempts_target ON notification_attempts (target_id, id)")
    }

    /// Who changed what of an app, and when (env, volumes, notification targets): names, never
    /// values. A server-wide change has no app.
    private static func v14(_ conn: Connection) throws {
        try conn.execute("""
        CREATE TABLE app_changes (
            id INTEGER PRIMARY KEY,
            app_id INTEGER REFERENCES apps(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            summary TEXT NOT NULL
        )
        """)
        try conn.execute("CREATE INDEX app_changes_app ON app_changes (app_id, id)")
    }

    /// Other servers whose Docker engines Slipway drives over SSH, and each app's server (the
    /// built-in `local` for every app there is).
    private static func v15(_ conn: Connection) throws {
        try conn.execute("""
        CREATE TABLE servers (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            ssh_user TEXT NOT NULL,
            ssh_host TEXT NOT NULL,
            ssh_port INTEGER NOT NULL,
            address TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            last_error TEXT,
            host_key_fingerprint TEXT,
            engine_version TEXT,
            engine_api_version TEXT,
            engine_os TEXT,
            engine_arch TEXT,
            latency_ms INTEGER,
            free_disk_bytes INTEGER,
            checked_at TEXT,
            created_at TEXT NOT NULL
        )
        """)
        try conn.execute("ALTER TABLE apps ADD COLUMN server TEXT NOT NULL DEFAULT 'local'")
        try conn.execute("ALTER TABLE deployments ADD COLUMN server TEXT NOT NULL DEFAULT 'local'")
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
