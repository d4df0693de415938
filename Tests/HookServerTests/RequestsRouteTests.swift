import Pipeline
import Edge
import FoundationEssentials
import PipelineTestSupport
import SlipwayHTTP
import SlipwaySystem
import XCTest
@testable import HookServer

/// GET /api/apps/{name}/requests and the app JSON's `traffic`, fed through the registry as the
/// edge feeds it. Socketless, through the Router and Responder.
final class RequestsRouteTests: XCTestCase {
    private var fixture: ServiceFixture!
    private var client: RouteClient!
    private var accessLogs: AccessLogRegistry!
    private static let token = "route-test-token-0123456789abcdef"
    private let auth = [("Authorization", "Bearer \(RequestsRouteTests.token)")]

    override func setUpWithError() throws {
        fixture = try ServiceFixture()
        let service = try fixture.makeService()
        let credentials = try Credentials(store: fixture.store, configuredPassword: "route-test-password", configuredToken: Self.token)
        accessLogs = try AccessLogRegistry(directory: nil, ringCapacity: 3)
        let api = APIContext(service: service, credentials: credentials, config: Configuration(), rejectedDeliveries: RejectedDeliveries(),
                             accessLogs: accessLogs, certificates: try UploadedCertificates(dataDir: nil))
        client = RouteClient { $0.addAPIRoutes(api) }
        let created = client.sendJSON("POST", "/api/apps", #"{"repo_url": "https://example.com/o/web.git", "name": "web", "deploy": false}"#,
                                      headers: auth)
        XCTAssertEqual(created.status, 201, created.text)
    }

    override func tearDown() { fixture.tearDown() }

    private var appID: Int {
        get throws { try XCTUnwrap(fixture.store.app(named: "web")).id }
    }

    private func record(_ n: Int, status: Int, target: String, deploymentID: Int?, upstreamFailed: Bool = false) -> AccessRecord {
        AccessRecord(time: Date(timeIntervalSince1970: 1_764_636_766 + Double(n)), method: "GET", target: target, status: status,
                     bytesReceived: n, bytesSent: 100 * n, durationMicroseconds: 1500 * n, deploymentID: deploymentID,
                     requestID: "req-\(n)", upstreamFailed: upstreamFailed)
    }

    func testNoRequestsYet() throws {
        let reply = client.send("GET", "/api/apps/web/requests", headers: auth)
        XCTAssertEqual(reply.status, 200)
        XCTAssertEqual(reply.headers["Content-Type"], "application/json")
        XCTAssertEqual(reply.json, .array([]))
        let app = client.send("GET", "/api/apps/web", headers: auth)
        XCTAssertEqual(app.json?["traffic"]?.serialized(),
                       #"{"requests":{"1xx":0,"2xx":0,"3xx":0,"4xx":0,"5xx":0},"requests_total":0,"bytes_in":0,"bytes_out":0,"upstream_errors":0}"#)
    }

    func testRecentRequestsNewestFirstWithTheirExactShape() throws {
        let id = try appID
        accessLogs.log(for: id, name: "web", record(1, status: 200, target: "/a?token=secret", deploymentID: 4))
        accessLogs.log(for: id, name: "web", record(2, status: 404, target: "/b", deploymentID: 4))
        accessLogs.log(for: id, name: "web", record(3, status: 502, target: "/c", deploymentID: nil, upstreamFailed: true))
        accessLogs.log(for: id, name: "web", record(4, status: 301, target: "/d\n", deploymentID: 5))
        let reply = client.send("GET", "/api/apps/web/requests", headers: auth)
        XCTAssertEqual(reply.status, 200)
        // The ring holds three: the first request is gone, its query string was never kept.
        XCTAssertEqual(reply.json?.serialized(), "["
            + #"{"time":"2025-12-02T00:52:50.000Z","method":"GET","path":"/d\\x0A","status":301,"bytes":400,"duration_ms":6,"deployment_id":5,"request_id":"req-4"},"#
            + #"{"time":"2025-12-02T00:52:49.000Z","method":"GET","path":"/c","status":502,"bytes":300,"duration_ms":4.5,"deployment_id":null,"request_id":"req-3"},"#
            + #"{"time":"2025-12-02T00:52:48.000Z","method":"GET","path":"/b","status":404,"bytes":200,"duration_ms":3,"deployment_id":4,"request_id":"req-2"}"#
            + "]")
        XCTAssertEqual(client.send("GET", "/api/apps/web/requests?limit=1", headers: auth).json?.arrayValue?.count, 1)
        let traffic = client.send("GET", "/api/apps/web", headers: auth).json?["traffic"]
        XCTAssertEqual(traffic?.serialized(),
                       #"{"requests":{"1xx":0,"2xx":1,"3xx":1,"4xx":1,"5xx":1},"requests_total":4,"bytes_in":10,"bytes_out":1000,"upstream_errors":1}"#)
        XCTAssertEqual(client.send("GET", "/api/apps", headers: auth).json?.arrayValue?.first?["traffic"], traffic)
    }

    func testUnknownAppAuthAndLimit() {
        let missing = client.send("GET", "/api/apps/nope/requests", headers: auth)
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.errorCode, "not_found")
        XCTAssertEqual(client.send("GET", "/api/apps/web/requests").status, 401)
        XCTAssertEqual(client.send("GET", "/api/apps/web/requests", headers: [("Authorization", "Bearer wrong")]).status, 401)
        let limit = client.send("GET", "/api/apps/web/requests?limit=4", headers: auth)
        XCTAssertEqual(limit.status, 400)
        XCTAssertEqual(limit.errorMessage, "limit must be between 1 and 3")
    }

    func testDeletingTheAppForgetsItsRequests() throws {
        let id = try appID
        accessLogs.log(for: id, name: "web", record(1, status: 200, target: "/", deploymentID: 1))
        XCTAssertEqual(client.send("DELETE", "/api/apps/web", headers: auth).status, 204)
        XCTAssertEqual(accessLogs.recent(appID: id), [])
        XCTAssertEqual(accessLogs.counters(appID: id), .zero)
    }

    func testTrafficSummaryOnThePage() {
        XCTAssertEqual(AppPage.trafficSummary(.zero), "No requests through the HTTP edge since the server started.")
        var s = AccessCounters.Snapshot.zero
        s.requests[.success] = 12
        s.requests[.clientError] = 2
        s.bytesIn = 5
        s.bytesOut = 900
        s.upstreamErrors = 1
        XCTAssertEqual(AppPage.trafficSummary(s),
                       "14 requests since the server started: 2xx 12, 4xx 2; 900 bytes out, 5 bytes in; 1 upstream errors.")
    }
}
