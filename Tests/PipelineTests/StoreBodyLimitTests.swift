import Foundation
import SlipwaySystem
import XCTest
@testable import Pipeline

/// An app's `max_request_body`: stored on create and on every settings update, nil kept as nil,
/// and migration 8, which adds the column and keeps every app as it was.
final class StoreBodyLimitTests: XCTestCase {
    private var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "slipway-body-limit-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testTheLimitRoundTripsThroughCreateAndUpdate() throws {
        let s = try Store(path: dir + "/slipway.db")
        let web = try s.createApp(name: "web", settings: AppSettings(repoURL: "https://example.com/w", maxRequestBody: 1000),
                                  port: nil, env: [])
        XCTAssertEqual(web.maxRequestBody, 1000)
        let blog = try s.createApp(name: "blog", settings: AppSettings(repoURL: "https://example.com/b"), port: nil, env: [])
        XCTAssertNil(blog.maxRequestBody)

        var settings = AppSettings(of: web)
        XCTAssertEqual(settings.maxRequestBody, 1000, "an edit starts from the stored value")
        settings.maxRequestBody = 64 << 30
        try s.updateSettings(appID: web.id, settings)
        XCTAssertEqual(try s.app(id: web.id)?.maxRequestBody, 64 << 30)
        settings.maxRequestBody = nil
        try s.updateSettings(appID: web.id, settings)
        XCTAssertNil(try s.app(named: "web")?.maxRequestBody)
        XCTAssertEqual(try s.apps().map(\.maxRequestBody), [nil, nil])
    }

    /// From 7: every column of every app as it was, the new one NULL (the server's limit), and
    /// what refers to the apps still there.
    func testMigrationEightKeepsEveryApp() throws {
        let path = dir + "/from-7.db"
        do {
            let database = try Database(path: path)
            try Migrations.apply(to: database, through: 7)
            try database.write { conn in
                try conn.execute("INSERT INTO apps (id, name, repo_url, branch, port, internal_port, health_path, memory_mb, cpus, webhook_secret, status, live_deployment_id, created_at, git_token, deploy_key_public, github_token) VALUES (7, 'web', 'https://example.com/w', 'dev', 8001, 8080, '/up', 256, 0.5, 'secret', 'running', 3, 'then', 'gt', 'ssh-ed25519 AAAA', 'ght')")
                try conn.execute("INSERT INTO apps (id, name, repo_url, branch, port, internal_port, health_path, webhook_secret, status, created_at) VALUES (9, 'blog', 'https://example.com/b', 'main', NULL, 5000, '/', 's2', 'new', 'then')")
                try conn.execute("INSERT INTO deployments (id, app_id, status, trigger, created_at) VALUES (3, 7, 'succeeded', 'manual', 'then')")
                try conn.execute("INSERT INTO env_vars (app_id, name, value) VALUES (7, 'A', '1')")
                try conn.execute("INSERT INTO domains (name, app_id, position) VALUES ('example.com', 7, 0)")
            }
        }
        let s = try Store(path: path)
        XCTAssertEqual(s.schemaVersion, Migrations.all.count, "migrated through the newest")
        XCTAssertEqual(try s.app(named: "web"), App(id: 7, name: "web", repoURL: "https://example.com/w", branch: "dev", port: 8001,
                                                     internalPort: 8080, healthPath: "/up", memoryMB: 256, cpus: 0.5, maxRequestBody: nil,
                                                     webhookSecret: "secret", status: .running, liveDeploymentID: 3, createdAt: "then",
                                                     gitToken: "gt", deployKeyPublic: "ssh-ed25519 AAAA", githubToken: "ght",
                                                     domains: [try DomainName(parsing: "example.com")]))
        XCTAssertNil(try s.app(named: "blog")?.port)
        XCTAssertNil(try s.app(named: "blog")?.maxRequestBody)
        XCTAssertEqual(try s.deployments(appID: 7, limit: 10).map(\.id), [3])
        XCTAssertEqual(try s.env(appID: 7).map(\.name), ["A"])

        // The migrated table takes the new column.
        var settings = AppSettings(of: try XCTUnwrap(try s.app(id: 9)))
        settings.maxRequestBody = 2048
        try s.updateSettings(appID: 9, settings)
        XCTAssertEqual(try s.app(id: 9)?.maxRequestBody, 2048)
    }
}
