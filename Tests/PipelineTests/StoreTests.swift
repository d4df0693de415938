import Foundation
import SlipwaySystem
import XCTest
@testable import Pipeline

final class StoreTests: XCTestCase {
    private var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "slipway-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func store() throws -> Store { try Store(path: dir + "/slipway.db") }

    func testOpensInWALWithForeignKeysAndMigrates() throws {
        let s = try store()
        XCTAssertEqual(try s.database.read { try $0.queryOne("PRAGMA journal_mode")?.string(0) }, "wal")
        XCTAssertEqual(try s.database.read { try $0.queryOne("PRAGMA foreign_keys")?.int(0) }, 1)
        XCTAssertEqual(s.schemaVersion, Migrations.all.count)
        // A second open finds the schema current and changes nothing.
        XCTAssertEqual(try store().schemaVersion, Migrations.all.count)
    }

    func testErrorsNameTheSQLAndCarrySQLitesMessage() throws {
        let s = try store()
        XCTAssertThrowsError(try s.database.read { try $0.execute("INSERT INTO nowhere VALUES (1)") }) { error in
            let e = error as! SQLiteError
            XCTAssertEqual(e.sql, "INSERT INTO nowhere VALUES (1)")
            XCTAssertTrue(e.message.contains("no such table"))
            XCTAssertTrue(e.description.contains("while executing `INSERT INTO nowhere VALUES (1)`"))
        }
    }

    func testForeignKeysAreEnforced() throws {
        let s = try store()
        XCTAssertThrowsError(try s.createDeployment(appID: 999, trigger: .manual)) { error in
            XCTAssertTrue((error as! SQLiteError).isConstraintViolation)
        }
    }

    func testAppsAndDeploymentsRoundTrip() throws {
        let s = try store()
        let app = try s.createApp(name: "web", settings: AppSettings(repoURL: "https://example.com/web.git"), port: 8001, env: [("A", "1")])
        XCTAssertEqual(app.status, .new)
        XCTAssertEqual(app.webhookSecret.count, 64)
        XCTAssertThrowsError(try s.createApp(name: "web", settings: AppSettings(repoURL: "x"), port: 8002, env: [])) {
            XCTAssertEqual($0 as? StoreError, .nameTaken("web"))
        }
        XCTAssertThrowsError(try s.createApp(name: "other", settings: AppSettings(repoURL: "x"), port: 8001, env: [])) {
            XCTAssertEqual($0 as? StoreError, .portTaken(8001))
        }
        var d = try s.createDeployment(appID: app.id, trigger: .manual, ref: "main")
        XCTAssertEqual(d.status, .queued)
        d.status = .succeeded
        d.steps = [("clone", 120), ("build", 3400)]
        d.finishedAt = Timestamp.now()
        try s.markLive(d)
        let reread = try s.deployment(id: d.id)!
        XCTAssertEqual(reread.steps.map(\.name), ["clone", "build"])
        XCTAssertEqual(try s.app(id: app.id)?.liveDeploymentID, d.id)
        XCTAssertEqual(try s.app(id: app.id)?.status, .running)
        XCTAssertEqual(try s.env(appID: app.id).map(\.name), ["A"])
        // Deleting an app takes its deployments and env vars with it.
        try s.deleteApp(id: app.id)
        XCTAssertNil(try s.deployment(id: d.id))
        XCTAssertEqual(try s.database.read { try $0.queryOne("SELECT COUNT(*) FROM env_vars")?.int(0) }, 0)
    }

    func testImportsTheSeedsDeployedAppsTable() throws {
        // The seed's schema, as it left databases behind.
        let seed = try Database(path: dir + "/slipway.db")
        try seed.write {
            try $0.execute("""
            CREATE TABLE deployed_apps (id INTEGER PRIMARY KEY AUTOINCREMENT, app_name TEXT, github_url TEXT, status TEXT, port INTEGER, container_id TEXT, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
            INSERT INTO deployed_apps (app_name, github_url, status, port, container_id, created_at) VALUES ('My_App', 'https://github.com/a/my-app', 'Körs', 8001, 'abc123', '2024-05-01 10:00:00');
            INSERT INTO deployed_apps (app_name, github_url, status, port, container_id) VALUES ('other', 'https://github.com/a/other', 'Stoppad', 8002, NULL);
            """)
        }
        let s = try store()
        let apps = try s.apps()
        XCTAssertEqual(apps.map(\.name), ["my-app", "other"])
        XCTAssertEqual(apps[0].repoURL, "https://github.com/a/my-app")
        XCTAssertEqual(apps[0].status, .running)
        XCTAssertEqual(apps[0].port, 8001)
        XCTAssertEqual(apps[0].createdAt, "2024-05-01T10:00:00.000Z")
        XCTAssertEqual(apps[1].status, .stopped)
        XCTAssertEqual(try s.database.read { try $0.queryOne("SELECT container_id FROM apps WHERE name = 'my-app'")?.string(0) }, "abc123")
        // The seed's table is left as it was.
        XCTAssertEqual(try s.database.read { try $0.queryOne("SELECT COUNT(*) FROM deployed_apps")?.int(0) }, 2)
    }

    func testDeliveriesWithoutADeploymentStayOutOfTheDeploymentIndex() throws {
        let s = try store()
        let sql = try s.database.read { try $0.queryOne("SELECT sql FROM sqlite_master WHERE name = 'webhook_deliveries_by_deployment'")?.string(0) }
        XCTAssertTrue(sql?.hasSuffix("WHERE deployment_id IS NOT NULL") == true, sql ?? "no index")
        let plan = try s.database.read { conn in
            try conn.query("EXPLAIN QUERY PLAN UPDATE webhook_deliveries SET deployment_id = NULL WHERE deployment_id = ?", [7]).map { $0.string(3) }
        }
        XCTAssertTrue(plan.contains { $0.contains("INDEX webhook_deliveries_by_deployment (deployment_id=?)") }, "\(plan)")
    }

    func testAWALPastTheThresholdIsCheckpointedWithoutAsking() throws {
        let database = try Database(path: dir + "/threshold.db", checkpointPages: 8)
        try database.write { try $0.execute("CREATE TABLE t (v TEXT)") }
        let size = { (try? FileManager.default.attributesOfItem(atPath: self.dir + "/threshold.db")[.size] as? Int) ?? 0 }
        let before = size()
        XCTAssertEqual(database.checkpointer.checkpointsRun, 0)
        for i in 0..<40 {
            try database.write { try $0.execute("INSERT INTO t VALUES (?)", String(repeating: "x", count: 2000) + "\(i)") }
        }
        let deadline = Date().addingTimeInterval(10)
        while database.checkpointer.checkpointsRun == 0 && Date() < deadline { usleep(10_000) }
        XCTAssertGreaterThan(database.checkpointer.checkpointsRun, 0, "no checkpoint after 40 commits past an 8-page threshold")
        XCTAssertGreaterThan(size(), before, "the checkpoint copied no page into the database file")
    }

    func testCheckpointsNeverWaitForTheMainConnection() throws {
        let s = try store()
        try s.setSetting("k", "v")
        let walPath = dir + "/slipway.db-wal"
        XCTAssertGreaterThan(try FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int ?? 0, 0)
        // While a request holds the main connection, a checkpoint still runs to its end: it has
        // a connection of its own. (On the main connection this waited for the lock.)
        let finished = DispatchSemaphore(value: 0)
        try s.database.read { _ in
            OSThread.detach(name: "checkpoint") {
                s.checkpoint(truncate: false)
                finished.signal()
            }
            XCTAssertEqual(finished.wait(timeout: .now() + 10), .success, "the checkpoint waited for the main connection")
        }
        try s.database.checkpoint(.truncate)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int, 0)
        XCTAssertEqual(try s.setting("k"), "v")
    }

    func testStatementsAreFinalizedSoTheDatabaseCloses() throws {
        var s: Store? = try store()
        _ = try s!.apps()
        _ = try? s!.database.read { try $0.execute("SELECT * FROM nowhere") }
        s = nil
        // With every statement finalized, close succeeded and the WAL was checkpointed away.
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/slipway.db-wal"))
    }

    /// Migration 5 reads each stored delivery's kind from its text, and the unique index then
    /// ignores rejected and duplicate deliveries by kind.
    func testMigrationFiveGivesStoredDeliveriesTheirKind() throws {
        let path = dir + "/slipway.db"
        do {
            let database = try Database(path: path)
            try database.write { conn in
                for migration in Migrations.all.prefix(4) { try migration(conn) }
                try conn.execute("PRAGMA user_version = 4")
                try conn.execute("INSERT INTO apps (name, repo_url, branch, port, internal_port, health_path, webhook_secret, status, created_at) VALUES ('web', 'https://example.com/w', 'main', 8001, 5000, '/', 's', 'running', 'now')")
                let appID = conn.lastInsertRowID
                for (id, result) in [("a", "accepted"), ("p", "ping"), ("i", "ignored: tag push (v1) does not deploy"),
                                     ("r", "rejected: invalid signature"), ("r", "rejected: missing signature"), ("a", "duplicate")] {
                    try conn.execute("INSERT INTO webhook_deliveries (delivery_id, app_id, event, result, created_at) VALUES (?, ?, 'push', ?, 'now')",
                                     id, appID, result)
                }
            }
        }
        let s = try store()
        XCTAssertEqual(s.schemaVersion, Migrations.all.count)
        let app = try XCTUnwrap(try s.app(named: "web"))
        XCTAssertEqual(try s.deliveries(appID: app.id).reversed().map(\.result), [
            .accepted, .ping, .ignored("tag push (v1) does not deploy"), .rejected("invalid signature"), .rejected("missing signature"), .duplicate,
        ])
        // Refusals may repeat a delivery id; a delivery that passed the check may not.
        XCTAssertNoThrow(try s.recordDelivery(appID: app.id, deliveryID: "p", event: "ping", result: .rejected("invalid signature")))
        XCTAssertThrowsError(try s.database.write { conn in
            try conn.execute(Store.insertDeliverySQL, "p", app.id, "ping", "ping", "ping", "now")
        })
        XCTAssertEqual(try s.deliveryDeployment(deliveryID: "r"), nil)
    }
}
