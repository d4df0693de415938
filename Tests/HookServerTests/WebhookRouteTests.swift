import SlipwayCrypto
import SlipwayHTTP
import SlipwaySystem
import XCTest
@testable import HookServer
@testable import Pipeline

/// Every decision of POST /hooks/github/{app}, through the router and the responder with a fake
/// backend: what is answered, and what is recorded or deployed.
final class WebhookRouteTests: XCTestCase {
    private var backend: FakeWebhookBackend!
    private var rejected: RejectedDeliveries!
    private var client: RouteClient!

    override func setUp() {
        backend = FakeWebhookBackend()
        rejected = RejectedDeliveries(allowance: 5, windowSeconds: 60)
        let handler = WebhookHandler(backend: backend, rejected: rejected)
        client = RouteClient { $0.addWebhookRoutes(handler) }
    }

    private let sha = "0123456789abcdef0123456789abcdef01234567"

    private func pushPayload(ref: String = "refs/heads/main", after: String? = nil, deleted: Bool = false) -> String {
        #"{"ref":"\#(ref)","after":"\#(after ?? sha)","deleted":\#(deleted),"head_commit":{"message":"Fix it\nmore words","author":{"name":"Ada","email":"ada@example.com"}},"repository":{"full_name":"o/web"}}"#
    }

    private func deliver(_ body: String, event: String? = "push", delivery: String? = "d-1", contentType: String = "application/json",
                         signature: String? = nil, app: String = "web", from address: String = "192.0.2.1",
                         file: StaticString = #filePath, line: UInt = #line) -> RouteClient.Reply {
        let bytes = Array(body.utf8)
        var headers: [(String, String)] = [("Content-Type", contentType)]
        if let event { headers.append(("X-GitHub-Event", event)) }
        if let delivery { headers.append(("X-GitHub-Delivery", delivery)) }
        headers.append(("X-Hub-Signature-256", signature ?? WebhookSignature.sign(body: bytes, secret: FakeWebhookBackend.secret)))
        return client.send("POST", "/hooks/github/\(app)", headers: headers, body: bytes, remoteAddress: address, file: file, line: line)
    }

    private var state: FakeWebhookBackend.State { backend.state.withLock { $0 } }

    func testAPushToTheBranchDeploysExactlyThePushedCommit() {
        let reply = deliver(pushPayload(after: sha.uppercased()))
        XCTAssertEqual(reply.status, 202)
        XCTAssertEqual(reply.json?["deployment_id"], .number(1))
        XCTAssertEqual(state.pushes, [.init(sha: sha, deliveryID: "d-1", message: "Fix it", author: "Ada <ada@example.com>")])
        XCTAssertTrue(state.recorded.isEmpty, "an accepted push is stored with its deployment, not batched")
    }

    func testPushesThatDoNotDeployAreIgnoredAndRecorded() {
        let cases: [(payload: String, reason: String)] = [
            (pushPayload(ref: "refs/tags/v1.2"), "tag push (v1.2) does not deploy"),
            (pushPayload(ref: "refs/heads/other"), "push to refs/heads/other does not deploy; this app deploys refs/heads/main"),
            (pushPayload(deleted: true), "branch main was deleted"),
            (pushPayload(after: String(repeating: "0", count: 40)), "branch main was deleted"),
        ]
        for (index, c) in cases.enumerated() {
            let reply = deliver(c.payload, delivery: "ignored-\(index)")
            XCTAssertEqual(reply.status, 200, c.reason)
            XCTAssertEqual(reply.json?["ignored"]?.stringValue, c.reason)
            XCTAssertEqual(state.recorded.last?.result, .ignored(c.reason))
        }
        XCTAssertTrue(state.pushes.isEmpty)
    }

    func testPingAndOtherEvents() {
        let ping = deliver(#"{"zen":"Keep it logically awesome."}"#, event: "ping", delivery: "p-1")
        XCTAssertEqual(ping.status, 200)
        XCTAssertEqual(ping.json?["ok"], .bool(true))
        XCTAssertEqual(state.recorded.last?.result, .ping)

        let issue = deliver("{}", event: "issues", delivery: "i-1")
        XCTAssertEqual(issue.status, 200)
        XCTAssertEqual(issue.json?["ignored"]?.stringValue, "event issues is not handled; only push deploys")
        XCTAssertEqual(state.recorded.last?.result.kind, .ignored)
    }

    func testSignedPayloadsThatMakeNoSenseAre400AndRecordedAsRejected() {
        let cases: [(reply: RouteClient.Reply, message: String)] = [
            (deliver(pushPayload(after: "not-a-sha"), delivery: "r-1"), "after is not a commit sha"),
            (deliver(#"{"after":"\#(sha)"}"#, delivery: "r-2"), "the push payload has no ref or after"),
            (deliver("{not json", delivery: "r-3"), "the payload is not valid JSON"),
            (deliver("nothing=here", delivery: "r-6", contentType: "application/x-www-form-urlencoded"), "the form has no payload field"),
        ]
        for c in cases {
            XCTAssertEqual(c.reply.status, 400, c.message)
            XCTAssertEqual(c.reply.errorCode, "bad_payload", c.message)
            XCTAssertEqual(c.reply.errorMessage, c.message)
        }
        XCTAssertEqual(state.recorded.map(\.result), cases.map { .rejected($0.message) }, "signed refusals are stored, in the batch")
        XCTAssertTrue(state.pushes.isEmpty)
    }

    /// What anyone can send is answered before the body is read, and only counted in memory.
    func testHeadersEveryDeliveryCarriesAreCheckedFirstAndRefusalsAreCountedInMemory() {
        let cases: [(reply: RouteClient.Reply, status: Int, code: String, message: String)] = [
            (deliver(pushPayload(), event: nil, delivery: "h-1"), 400, "bad_request", "missing X-GitHub-Event header"),
            (deliver(pushPayload(), delivery: nil), 400, "bad_request", "missing X-GitHub-Delivery header"),
            (deliver(pushPayload(), delivery: String(repeating: "d", count: 129)), 400, "bad_request", "X-GitHub-Delivery is longer than 128 bytes"),
            (deliver(pushPayload(), delivery: "h-4", contentType: "text/plain"), 415, "unsupported_media_type",
             "content type must be application/json or application/x-www-form-urlencoded"),
        ]
        for c in cases {
            XCTAssertEqual(c.reply.status, c.status, c.message)
            XCTAssertEqual(c.reply.errorCode, c.code, c.message)
            XCTAssertEqual(c.reply.errorMessage, c.message)
        }
        XCTAssertTrue(state.recorded.isEmpty && state.refusals.isEmpty && state.pushes.isEmpty, "nothing written for them")
        XCTAssertEqual(rejected.summary(appID: 1).count, cases.count)
    }

    func testPastItsBudgetAnAddressIsAnswered429ButAValidDeliveryStillPasses() {
        let body = pushPayload()
        let statuses = (0..<8).map { deliver(body, delivery: "b-\($0)", signature: "sha256=" + String(repeating: "0", count: 64)).status }
        XCTAssertEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429])
        let throttled = deliver(body, delivery: "b-9", signature: "sha256=" + String(repeating: "0", count: 64))
        XCTAssertEqual(throttled.errorCode, "too_many_requests")
        XCTAssertNotNil(throttled.headers["Retry-After"])
        XCTAssertEqual(deliver(body, delivery: "good").status, 202, "a valid signature is never refused")
        XCTAssertEqual(deliver(body, delivery: "b-10", signature: "sha256=" + String(repeating: "0", count: 64), from: "198.51.100.7").status,
                       401, "another address has a budget of its own")
        XCTAssertEqual(rejected.samples(appID: 1).count, 6, "past its budget an address is counted, not sampled")
        XCTAssertEqual(rejected.summary(appID: 1).count, 10)
    }

    func testABadOrMissingSignatureIsRefusedWithoutSayingWhatWasExpected() {
        let body = pushPayload()
        let expected = WebhookSignature.sign(body: Array(body.utf8), secret: FakeWebhookBackend.secret)
        let wrong = deliver(body, signature: WebhookSignature.sign(body: Array(body.utf8), secret: "another secret"))
        XCTAssertEqual(wrong.status, 401)
        XCTAssertEqual(wrong.errorCode, "invalid_signature")
        XCTAssertEqual(wrong.errorMessage, "the X-Hub-Signature-256 signature does not match")
        XCTAssertFalse(wrong.text.contains(String(expected.dropFirst(7))), "the expected MAC never reaches the client")

        var headers: [(String, String)] = [("Content-Type", "application/json"), ("X-GitHub-Event", "push")]
        headers.append(("X-GitHub-Delivery", "m-1"))
        let missing = client.send("POST", "/hooks/github/web", headers: headers, body: Array(body.utf8))
        XCTAssertEqual(missing.status, 401)
        XCTAssertEqual(missing.errorMessage, "missing X-Hub-Signature-256 header")
        XCTAssertEqual(rejected.samples(appID: 1).map(\.reason), ["missing signature", "invalid signature"], "newest first, in memory")
        XCTAssertTrue(state.refusals.isEmpty && state.recorded.isEmpty, "a refusal anyone can cause is never written")
        XCTAssertTrue(state.pushes.isEmpty)
    }

    func testARedeliveryIsAnsweredAndActedOnOnce() {
        XCTAssertEqual(deliver(pushPayload(), delivery: "same").status, 202)
        let again = deliver(pushPayload(), delivery: "same")
        XCTAssertEqual(again.status, 200)
        XCTAssertEqual(again.json?["duplicate"], .bool(true))
        XCTAssertEqual(again.json?["deployment_id"], .number(1))
        XCTAssertEqual(state.pushes.count, 1)
        XCTAssertEqual(state.refusals.last, .init(deliveryID: "same", event: "push", result: .duplicate, deploymentID: 1))

        XCTAssertEqual(deliver("{}", event: "ping", delivery: "p").status, 200)
        let pingAgain = deliver("{}", event: "ping", delivery: "p")
        XCTAssertEqual(pingAgain.json?["duplicate"], .bool(true))
        XCTAssertEqual(pingAgain.json?["deployment_id"], .null)
    }

    func testAFormEncodedDeliveryCarriesItsPayloadField() {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let form = "payload=" + pushPayload().addingPercentEncoding(withAllowedCharacters: allowed)!
        let reply = deliver(form, delivery: "f-1", contentType: "application/x-www-form-urlencoded")
        XCTAssertEqual(reply.status, 202)
        XCTAssertEqual(state.pushes.first?.sha, sha)
    }

    func testAnUnknownAppIs404InJSON() {
        let reply = deliver(pushPayload(), app: "nobody")
        XCTAssertEqual(reply.status, 404)
        XCTAssertEqual(reply.errorCode, "not_found")
        XCTAssertEqual(reply.errorMessage, "no app named nobody")
    }

    func testOtherMethodsAre405WithAllow() {
        let reply = client.send("GET", "/hooks/github/web")
        XCTAssertEqual(reply.status, 405)
        XCTAssertEqual(reply.headers["Allow"], "POST")
        XCTAssertEqual(reply.errorCode, "method_not_allowed")
    }
}
