import Foundation
import XCTest
@testable import Pipeline

/// The delivery history per app: the newest `keep` without a deployment stay, and every one
/// tied to a deployment stays with it, however many arrive.
final class DeliveryPrunerTests: XCTestCase {
    private var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "slipway-pruner-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func fill(_ store: Store, appID: Int, count: Int, linkedEvery: Int, deploymentID: Int) throws {
        try store.database.write { conn in
            for i in 0..<count {
                let linked = i % linkedEvery == 0
                try conn.execute("INSERT INTO webhook_deliveries (delivery_id, app_id, event, kind, result, deployment_id, created_at) VALUES (?, ?, 'push', ?, ?, ?, 'now')",
                                 "\(appID)-\(i)", appID, linked ? "accepted" : "ignored", linked ? "accepted" : "ignored: test",
                                 linked ? deploymentID : nil)
            }
        }
    }

    private func counts(_ store: Store, appID: Int) throws -> (unlinked: Int, linked: Int, newestUnlinked: [String]) {
        try store.database.read { conn in
            let unlinked = try conn.queryOne("SELECT count(*) FROM webhook_deliveries WHERE app_id = ? AND deployment_id IS NULL", appID)!.int(0)
            let linked = try conn.queryOne("SELECT count(*) FROM webhook_deliveries WHERE app_id = ? AND deployment_id IS NOT NULL", appID)!.int(0)
            let newest = try conn.query("SELECT delivery_id FROM webhook_deliveries WHERE app_id = ? AND deployment_id IS NULL ORDER BY id DESC LIMIT 3",
                                        [appID]).map { $0.string(0) }
            return (unlinked, linked, newest)
        }
    }

    func testKeepsTheNewestUnlinkedAndEveryLinkedDelivery() throws {
        let store = try Store(path: dir + "/slipway.db", keepDeliveries: 100)
        let a = try store.createApp(name: "a", settings: AppSettings(repoURL: "https://example.com/a.git"), port: 8001, env: [])
        let b = try store.createApp(name: "b", settings: AppSettings(repoURL: "https://example.com/b.git"), port: 8002, env: [])
        let deployment = try store.createDeployment(appID: a.id, trigger: .webhook, ref: nil, sourceDeploymentID: nil, deliveryID: nil,
                                                    commitMessage: nil, commitAuthor: nil)
        // 2,600 deliveries for a, one in ten tied to its deployment; 60 for b.
        try fill(store, appID: a.id, count: 2_600, linkedEvery: 10, deploymentID: deployment.id)
        try fill(store, appID: b.id, count: 60, linkedEvery: 1_000, deploymentID: deployment.id)
        XCTAssertEqual(try store.pruner.prune(appID: a.id), 2_340 - 100, "batches of 500 until only the newest 100 unlinked are left")
        XCTAssertEqual(try store.pruner.prune(appID: b.id), 0, "under its limit, nothing goes")
        let after = try counts(store, appID: a.id)
        XCTAssertEqual(after.unlinked, 100)
        XCTAssertEqual(after.linked, 260, "deliveries tied to a deployment stay with it")
        XCTAssertEqual(after.newestUnlinked, ["\(a.id)-2599", "\(a.id)-2598", "\(a.id)-2597"])
        XCTAssertEqual(try counts(store, appID: b.id).unlinked, 59)
        XCTAssertEqual(try store.pruner.prune(appID: a.id), 0, "a second prune finds nothing")
    }

    func testRecordedDeliveriesArePrunedOffTheRequestPathOnceAnAppHasEnoughNewOnes() throws {
        let store = try Store(path: dir + "/slipway.db", keepDeliveries: 20)
        let app = try store.createApp(name: "a", settings: AppSettings(repoURL: "https://example.com/a.git"), port: 8001, env: [])
        let done = DispatchGroup()
        for i in 0..<120 {
            done.enter()
            store.deliveries.record(.init(appID: app.id, deliveryID: "d-\(i)", event: "push", result: .ignored("test"))) { _ in done.leave() }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        // The threshold is max(50, keep / 10) rows since the last prune, so at most 20 + 50 stay.
        let deadline = Date().addingTimeInterval(10)
        while try counts(store, appID: app.id).unlinked > 70 && Date() < deadline { usleep(20_000) }
        XCTAssertLessThanOrEqual(try counts(store, appID: app.id).unlinked, 70)
        XCTAssertGreaterThan(store.pruner.deleted, 0)
    }
}
