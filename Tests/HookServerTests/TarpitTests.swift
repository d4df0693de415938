import Dispatch
import SlipwayHTTP
import Synchronization
import XCTest
@testable import HookServer

final class TarpitTests: XCTestCase {
    func testAHeldAnswerIsNotReadyAtOnceAndComesInOrder() throws {
        let tarpit = try Tarpit(delayMilliseconds: 50)
        let answered = DispatchSemaphore(value: 0)
        let order = Mutex<[Int]>([])
        var held: [DeferredResponse] = []
        for i in 0..<3 {
            guard case .deferred(let deferred) = tarpit.hold({ .text("\(i)") }).body else { return XCTFail("not held") }
            held.append(deferred)
            deferred.whenReady {
                order.withLock { $0.append(i) }
                answered.signal()
            }
        }
        for _ in 0..<3 { XCTAssertEqual(answered.wait(timeout: .now() + 5), .success) }
        XCTAssertEqual(order.withLock { $0 }, [0, 1, 2])
        for (i, deferred) in held.enumerated() {
            guard case .bytes(let bytes) = try XCTUnwrap(deferred.take())().body else { return XCTFail() }
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "\(i)")
        }
    }

    func testALongDelayHoldsTheAnswerBack() throws {
        let tarpit = try Tarpit(delayMilliseconds: 60_000)
        guard case .deferred(let deferred) = tarpit.hold({ .text("late") }).body else { return XCTFail("not held") }
        XCTAssertNil(deferred.take(), "the answer waits its turn")
    }

    /// Through the route: past its budget, a client's bad signatures are answered 429 after the
    /// delay, on the deferred path, so its connection holds no worker meanwhile.
    func testTheWebhookRouteHoldsBackThrottledAnswers() throws {
        let backend = FakeWebhookBackend()
        let handler = WebhookHandler(backend: backend, rejected: RejectedDeliveries(allowance: 1, windowSeconds: 60),
                                     tarpit: try Tarpit(delayMilliseconds: 60_000))
        var router = Router()
        router.addWebhookRoutes(handler)
        let responder = Responder(router: router, defaultBodyLimit: 1 << 20)
        func post(_ id: String) -> HTTPResponse {
            let headers = HTTPHeaders([("Host", "x"), ("Content-Type", "application/json"), ("X-GitHub-Event", "ping"),
                                       ("X-GitHub-Delivery", id), ("X-Hub-Signature-256", "sha256=" + String(repeating: "0", count: 64))])
            let head = RequestHead(method: "POST", target: "/hooks/github/web", path: "/hooks/github/web", query: nil, versionMinor: 1, headers: headers)
            let resolution = router.resolve(method: "POST", path: head.path)
            var request = HTTPRequest(head: head, body: Array("{}".utf8), remoteAddress: "192.0.2.9")
            if case .proceed(let context) = responder.checkHead(of: HTTPRequest(head: head, body: [], remoteAddress: "192.0.2.9"), resolution: resolution) {
                request.context = context
            }
            return responder.respond(to: request, resolution: resolution)
        }
        XCTAssertEqual(post("a").status, 401, "within the budget: answered at once")
        guard case .deferred = post("b").body else { return XCTFail("past the budget, the answer is held back") }
    }
}
