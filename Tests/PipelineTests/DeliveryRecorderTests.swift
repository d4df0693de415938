import Foundation
import Synchronization
import XCTest
@testable import Pipeline

final class DeliveryRecorderTests: XCTestCase {
    private var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "slipway-recorder-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func storeWithApp() throws -> (Store, Int) {
        let store = try Store(path: dir + "/slipway.db")
        let app = try store.createApp(name: "hooked", settings: AppSettings(repoURL: "https://example.com/hooked.git"), port: 8001, env: [])
        return (store, app.id)
    }

    /// Records `entries` at once and waits for every completion.
    private func record(_ store: Store, _ entries: [DeliveryRecorder.Entry]) -> [Result<Bool, any Error>] {
        let results = Mutex<[Int: Result<Bool, any Error>]>([:])
        let done = DispatchGroup()
        for (index, entry) in entries.enumerated() {
            done.enter()
            store.deliveries.record(entry) { result in
                results.withLock { $0[index] = result }
                done.leave()
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "completions did not all run")
        return results.withLock { r in entries.indices.compactMap { r[$0] } }
    }

    func testABurstIsRecordedInFewTransactionsAndEveryDeliveryIsStored() throws {
        let (store, appID) = try storeWithApp()
        let entries = (0..<500).map { DeliveryRecorder.Entry(appID: appID, deliveryID: "d-\($0)", event: "push", result: .ignored("test")) }
        let results = record(store, entries)
        XCTAssertEqual(results.count, 500)
        XCTAssertTrue(results.allSatisfy { (try? $0.get()) == true })
        XCTAssertEqual(try store.database.read { try $0.queryOne("SELECT count(*) FROM webhook_deliveries WHERE app_id = ?", appID)?.int(0) }, 500)
        // Queued faster than one commit takes, they share transactions (at most 256 each).
        XCTAssertGreaterThanOrEqual(store.deliveries.batchesCommitted, 2)
        XCTAssertLessThan(store.deliveries.batchesCommitted, 500)
    }

    func testARedeliveryIsReportedOnceEvenInTheSameBatch() throws {
        let (store, appID) = try storeWithApp()
        XCTAssertEqual(try record(store, [DeliveryRecorder.Entry(appID: appID, deliveryID: "first", event: "push", result: .ignored("test"))])[0].get(), true)
        let results = record(store, [
            DeliveryRecorder.Entry(appID: appID, deliveryID: "first", event: "push", result: .ignored("test")),
            DeliveryRecorder.Entry(appID: appID, deliveryID: "second", event: "push", result: .ignored("test")),
            DeliveryRecorder.Entry(appID: appID, deliveryID: "second", event: "push", result: .ignored("test")),
            DeliveryRecorder.Entry(appID: appID, deliveryID: nil, event: "ping", result: .ping),
        ]).map { try? $0.get() }
        XCTAssertEqual(results, [false, true, false, true])
        XCTAssertEqual(try store.database.read { try $0.queryOne("SELECT count(*) FROM webhook_deliveries")?.int(0) }, 3)
    }

    func testAnErrorOtherThanADuplicateReachesTheCallerAndStoresNothing() throws {
        let (store, appID) = try storeWithApp()
        // A foreign key refused (the app is gone) is not a redelivery: the caller gets the error.
        let results = record(store, [DeliveryRecorder.Entry(appID: appID + 1000, deliveryID: "orphan", event: "push", result: .ignored("test"))])
        XCTAssertEqual(results.count, 1)
        XCTAssertThrowsError(try results[0].get()) { error in
            XCTAssertEqual((error as? SQLiteError)?.code, 787, "\(error)")  // SQLITE_CONSTRAINT_FOREIGNKEY
        }
        XCTAssertEqual(try store.database.read { try $0.queryOne("SELECT count(*) FROM webhook_deliveries")?.int(0) }, 0)
    }
}
