import Foundation
import SlipwaySystem
import XCTest
@testable import Pipeline

/// The domains table: the user's order, one app per name, conflicts that name the holder, and
/// names freed with their app; and migration 7, which lets an app have no port.
final class StoreDomainsTests: XCTestCase {
    private var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "slipway-domains-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func store() throws -> Store { try Store(path: dir + "/slipway.db") }

    private func names(_ texts: String...) throws -> [DomainName] { try texts.map { try DomainName(parsing: $0) } }

    private func app(_ s: Store, _ name: String, port: Int?, domains: [DomainName] = []) throws -> App {
        try s.createApp(name: name, settings: AppSettings(repoURL: "https://example.com/\(name).git"), port: port, env: [], domains: domains)
    }

    func testDomainsKeepTheUsersOrderAndAreReplacedWhole() throws {
        let s = try store()
        let web = try app(s, "web", port: 8001, domains: try names("www.example.com", "*.example.com", "example.com"))
        XCTAssertEqual(web.domains.map(\.value), ["www.example.com", "*.example.com", "example.com"])
        XCTAssertEqual(try s.app(named: "web")?.domains, web.domains)
        XCTAssertEqual(try s.apps().first?.domains, web.domains)

        try s.replaceDomains(of: web, with: try names("example.com", "www.example.com"))
        XCTAssertEqual(try s.domains(appID: web.id).map(\.value), ["example.com", "www.example.com"])
        XCTAssertEqual(try s.app(id: web.id)?.domains.map(\.value), ["example.com", "www.example.com"])
        try s.replaceDomains(of: web, with: [])
        XCTAssertEqual(try s.domains(appID: web.id), [])
    }

    func testANameOfAnotherAppIsAConflictNamingItAndChangesNothing() throws {
        let s = try store()
        let web = try app(s, "web", port: 8001, domains: try names("example.com"))
        let blog = try app(s, "blog", port: 8002, domains: try names("blog.example.com"))

        XCTAssertThrowsError(try s.replaceDomains(of: blog, with: try names("news.example.com", "example.com"))) {
            XCTAssertEqual($0 as? StoreError, .domainTaken("example.com", app: "web"))
            XCTAssertEqual(($0 as? StoreError)?.description, "example.com is already a domain of app web")
        }
        XCTAssertEqual(try s.domains(appID: blog.id).map(\.value), ["blog.example.com"], "the refused list stored nothing")

        XCTAssertThrowsError(try app(s, "shop", port: 8003, domains: try names("shop.example.com", "blog.example.com"))) {
            XCTAssertEqual($0 as? StoreError, .domainTaken("blog.example.com", app: "blog"))
        }
        XCTAssertNil(try s.app(named: "shop"), "a refused app is not created")
        XCTAssertFalse(try s.usedPorts().contains(8003))

        // An app may give its own names again, in a new order.
        try s.replaceDomains(of: web, with: try names("www.example.com", "example.com"))
        XCTAssertEqual(try s.domains(appID: web.id).map(\.value), ["www.example.com", "example.com"])
        // A wildcard is a name of its own: it does not hold the names it covers.
        try s.replaceDomains(of: blog, with: try names("*.example.com"))
        XCTAssertEqual(try s.allDomains().map { "\($0.name) \($0.appName)" },
                       ["*.example.com blog", "example.com web", "www.example.com web"])
    }

    func testDeletingAnAppFreesItsNames() throws {
        let s = try store()
        let web = try app(s, "web", port: 8001, domains: try names("example.com", "*.example.com"))
        try s.deleteApp(id: web.id)
        XCTAssertEqual(try s.database.read { try $0.queryOne("SELECT COUNT(*) FROM domains")?.int(0) }, 0)
        let blog = try app(s, "blog", port: 8002, domains: try names("example.com", "*.example.com"))
        XCTAssertEqual(try s.allDomains().map(\.appID), [blog.id, blog.id])
    }

    func testReplacingTheDomainsOfADeletedAppSaysItIsGone() throws {
        let s = try store()
        let web = try app(s, "web", port: 8001)
        try s.deleteApp(id: web.id)
        XCTAssertThrowsError(try s.replaceDomains(of: web, with: try names("example.com"))) {
            XCTAssertEqual($0 as? StoreError, .appGone("web"))
        }
    }

    func testTheTableRefusesNamesThatAreNotLowercase() throws {
        let s = try store()
        let web = try app(s, "web", port: 8001)
        XCTAssertThrowsError(try s.database.write {
            try $0.execute("INSERT INTO domains (name, app_id, position) VALUES ('Example.com', ?, 0)", web.id)
        }) { XCTAssertTrue(($0 as? SQLiteError)?.isConstraintViolation == true, "\($0)") }
    }

    func testAppsWithoutAPortAreStoredAndGivenOneLater() throws {
        let s = try store()
        let a = try app(s, "a", port: nil)
        let b = try app(s, "b", port: nil)
        XCTAssertNil(a.port)
        XCTAssertNil(try s.app(id: b.id)?.port)
        XCTAssertEqual(try s.usedPorts(), [])
        try s.setPort(appID: a.id, 8001)
        XCTAssertEqual(try s.app(id: a.id)?.port, 8001)
        XCTAssertEqual(try s.usedPorts(), [8001])
        XCTAssertThrowsError(try s.setPort(appID: b.id, 8001)) { XCTAssertEqual($0 as? StoreError, .portTaken(8001)) }
    }

    /// Migration 7 rebuilds the apps table so a port may be NULL; every row that refers to an app
    /// (deployments, env vars, deliveries, domains) must come through, with its ids, and foreign
    /// keys must be on again and still cascade. From 5 (the schema before domains) and from 6.
    func testMigrationsSixAndSevenKeepEveryAppAndWhatRefersToIt() throws {
        for from in [5, 6] { try migrate(from: from) }
    }

    private func migrate(from version: Int) throws {
        let path = dir + "/from-\(version).db"
        do {
            let database = try Database(path: path)
            try Migrations.apply(to: database, through: version)
            try database.write { conn in
                try conn.execute("INSERT INTO apps (id, name, repo_url, branch, port, internal_port, health_path, memory_mb, cpus, webhook_secret, status, live_deployment_id, container_id, created_at, git_token, deploy_key_public, github_token) VALUES (7, 'web', 'https://example.com/w', 'dev', 8001, 8080, '/up', 256, 0.5, 'secret', 'running', 3, 'c1', 'then', 'gt', 'ssh-ed25519 AAAA', 'ght')")
                try conn.execute("INSERT INTO apps (id, name, repo_url, branch, port, internal_port, health_path, webhook_secret, status, created_at) VALUES (9, 'blog', 'https://example.com/b', 'main', 8002, 5000, '/', 's2', 'new', 'then')")
                try conn.execute("INSERT INTO deployments (id, app_id, status, trigger, created_at) VALUES (3, 7, 'succeeded', 'manual', 'then')")
                try conn.execute("INSERT INTO deployments (id, app_id, status, trigger, source_deployment_id, created_at) VALUES (4, 7, 'succeeded', 'rollback', 3, 'then')")
                try conn.execute("INSERT INTO env_vars (app_id, name, value) VALUES (7, 'A', '1')")
                try conn.execute("INSERT INTO webhook_deliveries (delivery_id, app_id, event, result, deployment_id, created_at) VALUES ('d1', 7, 'push', 'accepted', 4, 'then')")
                if version >= 6 { try conn.execute("INSERT INTO domains (name, app_id, position) VALUES ('example.com', 7, 0)") }
            }
            XCTAssertEqual(try database.read { try $0.queryOne("PRAGMA user_version")?.int(0) }, version)
        }
        let s = try Store(path: path)
        XCTAssertEqual(s.schemaVersion, Migrations.all.count)
        XCTAssertEqual(try s.database.read { try $0.queryOne("PRAGMA foreign_keys")?.int(0) }, 1, "foreign keys are on again")
        let web = try XCTUnwrap(try s.app(named: "web"))
        XCTAssertEqual(web, App(id: 7, name: "web", repoURL: "https://example.com/w", branch: "dev", port: 8001, internalPort: 8080,
                                healthPath: "/up", memoryMB: 256, cpus: 0.5, webhookSecret: "secret", status: .running,
                                liveDeploymentID: 3, createdAt: "then", gitToken: "gt", deployKeyPublic: "ssh-ed25519 AAAA",
                                githubToken: "ght", domains: version >= 6 ? try names("example.com") : []), "from \(version)")
        XCTAssertEqual(try s.app(named: "blog")?.id, 9)
        XCTAssertEqual(try s.deployments(appID: 7, limit: 10).map(\.id), [4, 3])
        XCTAssertEqual(try s.deployment(id: 4)?.sourceDeploymentID, 3)
        XCTAssertEqual(try s.env(appID: 7).map(\.name), ["A"])
        XCTAssertEqual(try s.deliveries(appID: 7, limit: 10).map(\.deploymentID), [4])
        XCTAssertEqual(try s.database.read { try $0.queryOne("SELECT container_id FROM apps WHERE id = 7")?.string(0) }, "c1")

        // The rebuilt table keeps its constraints, takes domains, and its children still cascade.
        XCTAssertThrowsError(try app(s, "other", port: 8001)) { XCTAssertEqual($0 as? StoreError, .portTaken(8001)) }
        XCTAssertThrowsError(try app(s, "web", port: nil)) { XCTAssertEqual($0 as? StoreError, .nameTaken("web")) }
        try s.replaceDomains(of: web, with: try names("example.com", "*.example.com"))
        XCTAssertThrowsError(try s.replaceDomains(of: try XCTUnwrap(try s.app(id: 9)), with: try names("example.com"))) {
            XCTAssertEqual($0 as? StoreError, .domainTaken("example.com", app: "web"))
        }
        try s.deleteApp(id: 7)
        for table in ["deployments", "env_vars", "webhook_deliveries", "domains"] {
            XCTAssertEqual(try s.database.read { try $0.queryOne("SELECT COUNT(*) FROM \(table)")?.int(0) }, 0, table)
        }
    }

    /// A migration that finds a broken reference commits nothing, and leaves foreign keys on.
    func testAMigrationThatBreaksAReferenceCommitsNothing() throws {
        let path = dir + "/slipway.db"
        let database = try Database(path: path)
        try Migrations.apply(to: database, through: 6)
        try database.read { try $0.execute("PRAGMA foreign_keys = OFF") }
        try database.write { try $0.execute("INSERT INTO env_vars (app_id, name, value) VALUES (42, 'ORPHAN', 'x')") }
        try database.read { try $0.execute("PRAGMA foreign_keys = ON") }
        XCTAssertThrowsError(try Migrations.apply(to: database)) { error in
            XCTAssertEqual((error as? SQLiteError)?.message, "a row of env_vars refers to a missing row of apps")
        }
        XCTAssertEqual(try database.read { try $0.queryOne("PRAGMA user_version")?.int(0) }, 6)
        XCTAssertEqual(try database.read { try $0.queryOne("PRAGMA foreign_keys")?.int(0) }, 1)
        XCTAssertEqual(try database.read { try $0.queryOne("SELECT COUNT(*) FROM sqlite_master WHERE name = 'apps_v7'")?.int(0) }, 0)
    }
}
