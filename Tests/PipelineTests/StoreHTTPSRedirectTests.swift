import Foundation
import SlipwaySystem
import XCTest
@testable import Pipeline

/// An app's `https_redirect` (on unless turned off) and `hsts` (off unless turned on): stored on
/// create and update; migration 9 turns the redirect on for every app already there.
final class StoreHTTPSRedirectTests: XCTestCase {
    private var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "slipway-https-redirect-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testTheSettingRoundTripsThroughCreateAndUpdate() throws {
        let s = try Store(path: dir + "/slipway.db")
        let web = try s.createApp(name: "web", settings: AppSettings(repoURL: "https://example.com/w"), port: nil, env: [])
        XCTAssertTrue(web.httpsRedirect, "on by default")
        let plain = try s.createApp(name: "plain", settings: AppSettings(repoURL: "https://example.com/p", httpsRedirect: false),
                                    port: nil, env: [])
        XCTAssertFalse(plain.httpsRedirect)
        var settings = AppSettings(of: web)
        settings.httpsRedirect = false
        try s.updateSettings(appID: web.id, settings)
        XCTAssertEqual(try s.apps().map(\.httpsRedirect), [false, false])
        XCTAssertFalse(AppSettings(of: try XCTUnwrap(s.app(id: web.id))).httpsRedirect, "an edit starts from the stored value")

        XCTAssertFalse(web.hsts, "HSTS is opt-in")
        settings.hsts = true
        try s.updateSettings(appID: web.id, settings)
        XCTAssertTrue(try XCTUnwrap(s.app(id: web.id)).hsts)
        XCTAssertFalse(try XCTUnwrap(s.app(id: plain.id)).hsts)
    }

    func testMigrationNineTurnsItOnForTheAppsThere() throws {
        let path = dir + "/from-8.db"
        do {
            let database = try Database(path: path)
            try Migrations.apply(to: database, through: 8)
            try database.write { conn in
                try conn.execute("INSERT INTO apps (id, name, repo_url, branch, port, internal_port, health_path, webhook_secret, status, created_at, max_request_body) VALUES (4, 'web', 'https://example.com/w', 'main', NULL, 5000, '/', 's', 'running', 'then', 2048)")
            }
        }
        let s = try Store(path: path)
        let web = try XCTUnwrap(s.app(named: "web"))
        XCTAssertTrue(web.httpsRedirect)
        XCTAssertFalse(web.hsts, "and migration 10 leaves HSTS off")
        XCTAssertEqual(web.maxRequestBody, 2048, "the rest as it was")
    }
}
