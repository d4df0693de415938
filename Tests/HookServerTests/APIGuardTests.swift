import Pipeline
import Edge
import PipelineTestSupport
import SlipwayHTTP
import XCTest
@testable import HookServer

/// What every API route does before its handler: the host name (421), the failed-token throttle
/// (429) and HSTS. Socketless, through the Router and Responder.
final class APIGuardTests: XCTestCase {
    private var fixture: ServiceFixture!
    private static let token = "route-test-token-0123456789abcdef"
    private let auth = [("Authorization", "Bearer \(APIGuardTests.token)")]

    override func setUpWithError() throws { fixture = try ServiceFixture() }
    override func tearDown() { fixture.tearDown() }

    private func client(publicURL: String? = nil, host: String = "127.0.0.1") throws -> RouteClient {
        let service = try fixture.makeService()
        let credentials = try Credentials(store: fixture.store, configuredPassword: "route-test-password", configuredToken: Self.token)
        var config = Configuration()
        config.host = host
        config.publicURL = publicURL
        let api = APIContext(service: service, credentials: credentials, config: config, rejectedDeliveries: RejectedDeliveries(),
                             accessLogs: try AccessLogRegistry(directory: nil), certificates: try UploadedCertificates(dataDir: nil))
        return RouteClient { $0.addAPIRoutes(api) }
    }

    func testOtherHostNamesGet421InJSONBeforeTheToken() throws {
        let client = try client(publicURL: "https://deploy.example.com")
        for (host, status) in [("evil.example", 421), ("evil.example:5000", 421), ("deploy.example.com", 200),
                               ("127.0.0.1:5000", 200), ("localhost", 200), ("[::1]:5000", 200)] {
            let reply = client.send("GET", "/api/apps", headers: auth + [("Host", host)])
            XCTAssertEqual(reply.status, status, "Host \(host)")
            if status == 421 {
                XCTAssertEqual(reply.errorCode, "misdirected_request")
                XCTAssertEqual(reply.headers["Content-Type"], "application/json")
            }
        }
        // Without a token too: the host is checked first.
        XCTAssertEqual(client.send("GET", "/api/apps", headers: [("Host", "evil.example")]).status, 421)
    }

    func testAWildcardHostWithoutPublicURLSaysWhatToConfigure() throws {
        let reply = try client(host: "0.0.0.0").send("GET", "/api/apps", headers: auth + [("Host", "192.0.2.10:5000")])
        XCTAssertEqual(reply.status, 421)
        XCTAssertTrue(reply.errorMessage?.contains("--public-url") == true, reply.text)
    }

    func testFiveWrongTokensThen429EvenForTheRightOne() throws {
        let client = try client()
        // No Authorization at all guesses nothing, and is not counted.
        for _ in 1...10 { XCTAssertEqual(client.send("GET", "/api/apps").status, 401) }
        for attempt in 1...5 {
            XCTAssertEqual(client.send("GET", "/api/apps", headers: [("Authorization", "Bearer wrong-\(attempt)")]).status, 401, "attempt \(attempt)")
        }
        for headers in [[("Authorization", "Bearer wrong-6")], auth] {
            let reply = client.send("GET", "/api/apps", headers: headers)
            XCTAssertEqual(reply.status, 429)
            XCTAssertEqual(reply.errorCode, "too_many_requests")
            XCTAssertEqual(reply.headers["Content-Type"], "application/json")
            let retry = Int(reply.headers["Retry-After"] ?? "")
            XCTAssertTrue(retry.map { (1...60).contains($0) } == true, "Retry-After \(reply.headers["Retry-After"] ?? "none")")
            XCTAssertFalse(reply.text.contains(Self.token))
        }
        // Another client is untouched.
        XCTAssertEqual(client.send("GET", "/api/apps", headers: auth, remoteAddress: "192.0.2.2").status, 200)
    }

    func testValidTokensDoNotUseUpTheBudget() throws {
        let client = try client()
        for _ in 1...20 { XCTAssertEqual(client.send("GET", "/api/apps", headers: auth).status, 200) }
        for attempt in 1...5 {
            XCTAssertEqual(client.send("GET", "/api/apps", headers: [("Authorization", "Bearer wrong")]).status, 401, "attempt \(attempt)")
        }
    }

    func testHSTSOnlyWhenThePublicURLIsHTTPS() throws {
        let https = try client(publicURL: "https://deploy.example.com")
        for reply in [https.send("GET", "/api/apps", headers: auth), https.send("GET", "/api/apps"),
                      https.send("GET", "/api/apps/nope", headers: auth)] {
            XCTAssertEqual(reply.headers["Strict-Transport-Security"], "max-age=31536000", "status \(reply.status)")
        }
        let http = try client(publicURL: "http://deploy.example.com")
        XCTAssertNil(http.send("GET", "/api/apps", headers: auth).headers["Strict-Transport-Security"])
    }
}
