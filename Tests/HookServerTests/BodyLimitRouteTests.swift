import Edge
import PipelineTestSupport
import SlipwayHTTP
import SlipwaySystem
import XCTest
@testable import HookServer
@testable import Pipeline

/// `max_request_body` through the JSON API and the dashboard's forms: given as bytes or as a
/// size such as "10m", shown as the app's own value or null, reset by null, and handed to the
/// edge (the app's live upstream) by every change. A real AppService over a temporary store; no
/// socket. The refusals are in APIValidationTests' tables.
final class BodyLimitRouteTests: XCTestCase {
    private var fixture: ServiceFixture!
    private var client: RouteClient!
    private var service: AppService!
    private static let token = "route-test-token-0123456789abcdef"
    private let auth = [("Authorization", "Bearer \(BodyLimitRouteTests.token)")]
    private let repo = "https://example.com/o/web.git"

    override func setUpWithError() throws {
        fixture = try ServiceFixture()
        service = try fixture.makeService()
        let credentials = try Credentials(store: fixture.store, configuredPassword: "route-test-password", configuredToken: Self.token)
        let api = APIContext(service: service, credentials: credentials, config: Configuration(), rejectedDeliveries: RejectedDeliveries(),
                             accessLogs: try AccessLogRegistry(directory: nil), certificates: try UploadedCertificates(dataDir: nil))
        client = RouteClient { $0.addAPIRoutes(api) }
    }

    override func tearDown() { fixture.tearDown() }

    private func send(_ method: String, _ path: String, _ body: String) -> RouteClient.Reply {
        client.sendJSON(method, path, body, headers: auth)
    }

    /// The app JSON's value, `.null` included; nil when the key is missing.
    private func limit(_ reply: RouteClient.Reply) -> JSON? { reply.json?["max_request_body"] }

    /// What the edge applies to the app's next request, when it has a value of its own.
    private func edgeLimit(_ name: String) throws -> Int? {
        let app = try XCTUnwrap(try fixture.store.app(named: name))
        return try XCTUnwrap(service.upstreams.upstream(for: app.id)).maxRequestBody
    }

    func testTheLimitIsSetShownChangedAndReset() throws {
        let created = send("POST", "/api/apps", #"{"repo_url": "\#(repo)", "deploy": false, "max_request_body": "10m"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        XCTAssertEqual(limit(created), .number(10_485_760))
        XCTAssertEqual(try edgeLimit("web"), 10 << 20)

        let plain = send("POST", "/api/apps", #"{"repo_url": "\#(repo)", "name": "plain", "deploy": false}"#)
        XCTAssertEqual(limit(plain), .null, "no value of its own: null, the server's limit applies")
        XCTAssertNil(try edgeLimit("plain"))

        let bytes = send("PATCH", "/api/apps/web", #"{"max_request_body": 1000}"#)
        XCTAssertEqual(limit(bytes), .number(1000), bytes.text)
        XCTAssertEqual(try edgeLimit("web"), 1000)
        let kept = send("PATCH", "/api/apps/web", #"{"branch": "dev"}"#)
        XCTAssertEqual(limit(kept), .number(1000), "absent: unchanged")
        XCTAssertEqual(limit(client.send("GET", "/api/apps/web", headers: auth)), .number(1000))

        let refused = send("PATCH", "/api/apps/web", #"{"max_request_body": "64g1"}"#)
        XCTAssertEqual(refused.status, 400)
        XCTAssertEqual(try edgeLimit("web"), 1000, "a refused change reaches neither the store nor the edge")

        let reset = send("PATCH", "/api/apps/web", #"{"max_request_body": null}"#)
        XCTAssertEqual(limit(reset), .null, reset.text)
        XCTAssertNil(try edgeLimit("web"))
        XCTAssertNil(try fixture.store.app(named: "web")?.maxRequestBody)
    }

    /// The forms' field: blank is the server's limit, else what the API's string takes.
    func testTheFormFieldTakesASizeOrBlank() throws {
        let app = try service.create(.init(name: "web", settings: AppSettings(repoURL: repo, maxRequestBody: 1000),
                                           env: [], deploy: false)).app
        XCTAssertEqual(try DeployForm.settings([:], base: app).maxRequestBody, 1000, "a form without the field keeps the value")
        XCTAssertNil(try DeployForm.settings(["max_request_body": "  "], base: app).maxRequestBody)
        XCTAssertEqual(try DeployForm.settings(["max_request_body": " 512k "], base: app).maxRequestBody, 512 << 10)
        XCTAssertEqual(try DeployForm(["repo_url": repo, "max_request_body": "2000"]).settings.maxRequestBody, 2000)
        XCTAssertThrowsError(try DeployForm.settings(["max_request_body": "lots"], base: app)) {
            XCTAssertEqual(($0 as? ValidationError)?.message,
                           "max_request_body must be a number of bytes, or one with a k, m or g suffix such as 10m; got 'lots'")
        }
        // The page shows the app's own value as the field takes it, and the server's beside it.
        let model = PageModel.app(app, config: Configuration(), live: nil, busy: false)
        func text(_ value: TemplateValue?) -> String? {
            if case .string(let s)? = value { return s }
            return nil
        }
        XCTAssertEqual(text(model["max_request_body"]), "1000")
        XCTAssertEqual(text(model["default_max_request_body"]), "100m")
    }
}
