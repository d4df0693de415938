import Foundation
import SlipwayCrypto
import SlipwaySystem
import Synchronization
import XCTest
@testable import Pipeline

/// The sender's logic against a transport of the test's making: the signature, the backoff
/// that doubles, and a delivery given up a day after its event.
final class NotificationSenderTests: XCTestCase {
    private var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "slipway-notify-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private final class Transport: NotificationTransport {
        let status = Mutex<Int?>(nil)
        let posts = Mutex<[(url: String, headers: [(String, String)], body: [UInt8])]>([])
        func post(_ url: String, headers: [(String, String)], body: [UInt8]) throws -> Int {
            posts.withLock { $0.append((url, headers, body)) }
            guard let status = status.withLock({ $0 }) else { throw TLSLikeError() }
            return status
        }
        struct TLSLikeError: Error, CustomStringConvertible { var description: String { "connect: connection refused" } }
    }

    func testAFailedDeliveryBacksOffAndIsGivenUpADayAfterItsEvent() throws {
        let store = try Store(path: dir + "/slipway.db")
        let queue = try NotificationQueue(store: store, publicURL: "http://127.0.0.1:5000")
        let target = try NotificationSettings(store: store).add(appID: nil, .init(type: "webhook", url: "http://127.0.0.1:9/h",
                                                                                   events: ["deployment.failed"]))
        let transport = Transport()
        let sender = NotificationSender(queue: queue, transport: transport, retrySeconds: 30)
        let now = NotificationQueue.now()
        try store.enqueueNotifications([(target.id, "d-1", "deployment.failed", "{\"event\":\"deployment.failed\"}")], now: now)

        XCTAssertEqual(try sender.sendDue(), 1)
        let headers = Dictionary(transport.posts.withLock { $0[0].headers }, uniquingKeysWith: { $1 })
        let mac = Crypto.hmacSHA256(key: Array(target.secret!.utf8), message: Array("{\"event\":\"deployment.failed\"}".utf8))
        XCTAssertEqual(headers["X-Slipway-Signature-256"], "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
        XCTAssertEqual(headers["X-Slipway-Delivery"], "d-1")
        XCTAssertEqual(try sender.sendDue(), 0, "not due again for 30 s")
        let next = try XCTUnwrap(try store.nextNotificationDue())
        XCTAssertEqual(next - now, 30, accuracy: 2)
        XCTAssertEqual(try store.notificationAttempts(targetID: target.id, limit: 5).first?.error, "connect: connection refused")

        // A second failure waits twice as long; one a day after the event gives up.
        let pending = try XCTUnwrap(try store.dueNotifications(now: next, limit: 5).first)
        XCTAssertEqual(pending.attempts, 1)
        var old = pending
        old.queuedAt = now - 86_400
        try store.recordNotificationAttempt(old, status: 500, latencyMilliseconds: 3, error: "the receiver answered 500", succeeded: false, next: nil)
        XCTAssertEqual(try store.pendingNotificationCount(targetID: target.id), 0, "given up")
        XCTAssertNil(try store.nextNotificationDue())
    }

    func testADeliveryThatGetsThroughIsSentOnceAndAnAnswerOutside2xxIsAFailure() throws {
        let store = try Store(path: dir + "/slipway.db")
        let queue = try NotificationQueue(store: store, publicURL: "http://127.0.0.1:5000")
        let target = try NotificationSettings(store: store).add(appID: nil, .init(type: "slack", url: "https://chat.example/hook",
                                                                                   events: ["app.crashed"]))
        XCTAssertNil(target.secret, "a Slack target is not signed")
        let transport = Transport()
        transport.status.withLock { $0 = 404 }
        let sender = NotificationSender(queue: queue, transport: transport, retrySeconds: 1)
        try store.enqueueNotifications([(target.id, "d-2", "app.crashed", "{\"text\":\"x\"}")], now: NotificationQueue.now() - 5)
        XCTAssertEqual(try sender.sendDue(), 1)
        XCTAssertEqual(try store.notificationAttempts(targetID: target.id, limit: 5).first?.error, "the receiver answered 404")
        XCTAssertEqual(try store.pendingNotificationCount(targetID: target.id), 1)
        transport.status.withLock { $0 = 204 }
        let due = NotificationQueue.now() + 5
        let again = try XCTUnwrap(try store.dueNotifications(now: due, limit: 5).first)
        try store.recordNotificationAttempt(again, status: 204, latencyMilliseconds: 1, error: nil, succeeded: true, next: nil)
        XCTAssertEqual(try store.pendingNotificationCount(targetID: target.id), 0)
        XCTAssertFalse(transport.posts.withLock { $0[0].headers.contains { $0.0 == "X-Slipway-Signature-256" } })
    }

    func testTargetsAreChecked() {
        for (input, field) in [(NotificationSettings.Input(type: "sms", url: "https://x.example/", events: ["app.crashed"]), "type"),
                               (.init(type: "slack", url: "file:///etc/passwd", events: ["app.crashed"]), "url"),
                               (.init(type: "slack", url: "https://x.example/", events: []), "events"),
                               (.init(type: "slack", url: "https://x.example/", events: ["test"]), "events")] {
            XCTAssertThrowsError(try NotificationSettings.check(input)) { XCTAssertEqual(($0 as? ValidationError)?.field, field) }
        }
    }
}
