import SlipwaySystem
/// Slipway's persistent state: apps, deployments, webhook deliveries, env vars and settings,
/// in one SQLite file.
public final class Store: Sendable {
    public let database: Database
    /// Webhook deliveries that need no deployment, recorded in batches.
    public let deliveries: DeliveryRecorder
    /// Keeps each app's deliveries without a deployment to the newest few.
    public let pruner: DeliveryPruner

    public static let fileName = "slipway.db"
    /// Deliveries without a deployment kept per app (`--keep-deliveries`).
    public static let defaultKeptDeliveries = 1000

    public init(path: String, keepDeliveries: Int = Store.defaultKeptDeliveries) throws {
        database = try Database(path: path)
        try Migrations.apply(to: database)
        pruner = try DeliveryPruner(database: database, keep: keepDeliveries)
        deliveries = try DeliveryRecorder(database: database, pruner: pruner)
    }

    deinit {
        deliveries.stop()
        pruner.stop()
    }

    /// Folds the WAL back into the database file: TRUNCATE for a tidy exit, PASSIVE periodically.
    public func checkpoint(truncate: Bool = true) {
        try? database.checkpoint(truncate ? .truncate : .passive)
    }

    public var schemaVersion: Int {
        (try? database.read { try $0.queryOne("PRAGMA user_version")?.int(0) }) ?? 0
    }

    // MARK: settings

    public func setting(_ key: String) throws -> String? {
        try database.read { try $0.queryOne("SELECT value FROM settings WHERE key = ?", key)?.string(0) }
    }

    public func setSetting(_ key: String, _ value: String) throws {
        try database.write {
            try $0.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, value)
        }
    }

    public func removeSetting(_ key: String) throws {
        try database.write { try $0.execute("DELETE FROM settings WHERE key = ?", key) }
    }

    // MARK: apps

    static let appColumns = "id, name, repo_url, branch, port, internal_port, health_path, memory_mb, cpus, webhook_secret, status, live_deployment_id, created_at, git_token, deploy_key_public, github_token, max_request_body, https_redirect, hsts, init, stop_timeout, server"

    static func app(from row: Row) -> App {
        var app = App(id: row.int(0), name: row.string(1), repoURL: row.string(2), branch: row.string(3), port: row.optionalInt(4),
            internalPort: row.int(5), healthPath: row.string(6), memoryMB: row.optionalInt(7), cpus: row.double(8),
            maxRequestBody: row.optionalInt(16), httpsRedirect: row.int(17) != 0, hsts: row.int(18) != 0,
            initProcess: row.int(19) != 0, stopTimeout: row.optionalInt(20),
            webhookSecret: row.string(9), status: AppStatus(rawValue: row.string(10)) ?? .new,
            liveDeploymentID: row.optionalInt(11), createdAt: row.string(12), gitToken: row.optionalString(13),
            deployKeyPublic: row.optionalString(14), githubToken: row.optionalString(15))
        app.server = row.string(21)
        return app
    }

    public func apps() throws -> [App] {
        try database.read { conn in
            var apps = try conn.query("SELECT \(Self.appColumns) FROM apps ORDER BY name").map(Self.app)
            let domains = Dictionary(grouping: try conn.query("SELECT app_id, name FROM domains ORDER BY app_id, position"),
                                     by: { $0.int(0) })
            for i in apps.indices { apps[i].domains = domains[apps[i].id, default: []].map { DomainName(stored: $0.string(1)) } }
            let volumes = Dictionary(grouping: try conn.query("SELECT app_id, name, path FROM volumes ORDER BY app_id, position"),
                                     by: { $0.int(0) })
            for i in apps.indices { apps[i].volumes = volumes[apps[i].id, default: []].map { AppVolume(name: $0.string(1), path: $0.string(2)) } }
            return apps
        }
    }

    public func app(named name: String) throws -> App? {
        try database.read { conn in
            try conn.queryOne("SELECT \(Self.appColumns) FROM apps WHERE name = ?", name).map { try Self.app(from: $0, domainsFrom: conn) }
        }
    }

    public func app(id: Int) throws -> App? {
        try database.read { conn in
            try conn.queryOne("SELECT \(Self.appColumns) FROM apps WHERE id = ?", id).map { try Self.app(from: $0, domainsFrom: conn) }
        }
    }

    /// The app of a row, with its domains and volumes read on the same connection.
    static func app(from row: Row, domainsFrom conn: Connection) throws -> App {
        var app = Self.app(from: row)
        app.domains = try Self.domains(appID: app.id, conn)
        app.volumes = try Self.volumes(appID: app.id, conn)
        return app
    }

    /// The ports apps hold; an app without one (made under `--app-ports off`) holds none.
    public func usedPorts() throws -> Set<Int> {
        try database.read { Set(try $0.query("SELECT port FROM apps WHERE port IS NOT NULL").map { $0.int(0) }) }
    }

    /// Inserts an app with the given port (nil: none) and its env vars and domains, in one
    /// transaction; throws `StoreError.nameTaken`, `.portTaken` or `.domainTaken` on a clash,
    /// and then stores nothing.
    public func createApp(name: String, settings: AppSettings, port: Int?, env: [(String, String)],
                          domains: [DomainName] = [], volumes: [AppVolume] = []) throws -> App {
        do {
            return try database.write { conn in
                try conn.execute("""
                    INSERT INTO apps (name, repo_url, branch, port, internal_port, health_path, memory_mb, cpus, max_request_body,
                                      https_redirect, hsts, init, stop_timeout, server, webhook_secret, status, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?)
                    """, name, settings.repoURL, settings.branch, port, settings.internalPort, settings.healthPath,
                    settings.memoryMB, settings.cpus, settings.maxRequestBody, settings.httpsRedirect ? 1 : 0, settings.hsts ? 1 : 0,
                    settings.initProcess ? 1 : 0, settings.stopTimeout, settings.server, Secrets.newWebhookSecret(), Timestamp.now())
                let id = conn.lastInsertRowID
                for (key, value) in env {
                    try conn.execute("INSERT INTO env_vars (app_id, name, value) VALUES (?, ?, ?)", id, key, value)
                }
                try Self.insertDomains(domains, appID: id, conn)
                try Self.insertVolumes(volumes, appID: id, conn)
                return try Self.app(from: try conn.queryOne("SELECT \(Self.appColumns) FROM apps WHERE id = ?", id)!, domainsFrom: conn)
            }
        } catch let error as SQLiteError where error.isConstraintViolation {
            if error.message.hasOccurrence(of: "apps.name") { throw StoreError.nameTaken(name) }
            if let port, error.message.hasOccurrence(of: "apps.port") { throw StoreError.portTaken(port) }
            throw error
        }
    }

    /// Gives an app a port (one made under `--app-ports off`, when ports are served again).
    public func setPort(appID: Int, _ port: Int) throws {
        do {
            try database.write { try $0.execute("UPDATE apps SET port = ? WHERE id = ?", port, appID) }
        } catch let error as SQLiteError where error.isConstraintViolation && error.message.hasOccurrence(of: "apps.port") {
            throw StoreError.portTaken(port)
        }
    }

    public func updateSettings(appID: Int, _ settings: AppSettings) throws {
        try database.write {
            try $0.execute("""
                UPDATE apps SET repo_url = ?, branch = ?, internal_port = ?, health_path = ?, memory_mb = ?, cpus = ?,
                    max_request_body = ?, https_redirect = ?, hsts = ?, init = ?, stop_timeout = ?, server = ? WHERE id = ?
                """, settings.repoURL, settings.branch, settings.internalPort, settings.healthPath, settings.memoryMB, settings.cpus,
                settings.maxRequestBody, settings.httpsRedirect ? 1 : 0, settings.hsts ? 1 : 0, settings.initProcess ? 1 : 0,
                settings.stopTimeout, settings.server, appID)
        }
    }

    public func setStatus(appID: Int, _ status: AppStatus) throws {
        try database.write { try $0.execute("UPDATE apps SET status = ? WHERE id = ?", status.rawValue, appID) }
    }

    public func setWebhookSecret(appID: Int, _ secret: String) throws {
        try database.write { try $0.execute("UPDATE apps SET webhook_secret = ? WHERE id = ?", secret, appID) }
    }

    /// Sets or clears (nil) one credential column.
    public func setCredential(appID: Int, _ column: CredentialColumn, _ value: String?) throws {
        try database.write { try $0.execute("UPDATE apps SET \(column.rawValue) = ? WHERE id = ?", value, appID) }
    }

    public enum CredentialColumn: String, Sendable {
        case gitToken = "git_token"
        case deployKeyPublic = "deploy_key_public"
        case githubToken = "github_token"
    }

    public func deleteApp(id: Int) throws {
        try database.write { try $0.execute("DELETE FROM apps WHERE id = ?", id) }
    }

    // MARK: env vars

    public func env(appID: Int) throws -> [(name: String, value: String)] {
        try database.read { try $0.query("SELECT name, value FROM env_vars WHERE app_id = ? ORDER BY name", appID).map { ($0.string(0), $0.string(1)) } }
    }

    /// Replaces the whole set of env vars.
    public func replaceEnv(appID: Int, _ env: [(String, String)]) throws {
        try database.write { conn in
            try conn.execute("DELETE FROM env_vars WHERE app_id = ?", appID)
            for (key, value) in env {
                try conn.execute("INSERT INTO env_vars (app_id, name, value) VALUES (?, ?, ?)", appID, key, value)
            }
        }
    }
}

public enum StoreError: Error, Equatable, CustomStringConvertible {
    case nameTaken(String)
    case portTaken(Int)
    /// The domain belongs to another app, named here.
    case domainTaken(String, app: String)
    /// Deleted while the request that names it waited for its turn.
    case appGone(String)

    public var description: String {
        switch self {
        case .nameTaken(let name): return "an app named \(name) already exists"
        case .portTaken(let port): return "port \(port) is already taken"
        case .domainTaken(let domain, let app): return "\(domain) is already a domain of app \(app)"
        case .appGone(let name): return "the app \(name) was deleted"
        }
    }
}
