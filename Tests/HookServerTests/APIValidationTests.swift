import Edge
import PipelineTestSupport
import SlipwayHTTP
import SlipwaySystem
import XCTest
@testable import HookServer
@testable import Pipeline

/// Every validation error of the JSON API, as a table: the request in, the status, code and
/// message out. A real AppService over a temporary store, the fake engine and fake git; no socket.
final class APIValidationTests: XCTestCase {
    private var fixture: ServiceFixture!
    private var client: RouteClient!
    private static let token = "route-test-token-0123456789abcdef"
    private let auth = [("Authorization", "Bearer \(APIValidationTests.token)")]

    override func setUpWithError() throws {
        fixture = try ServiceFixture()
        let service = try fixture.makeService()
        let credentials = try Credentials(store: fixture.store, configuredPassword: "route-test-password", configuredToken: Self.token)
        let config = Configuration()
        let api = APIContext(service: service, credentials: credentials, config: config, rejectedDeliveries: RejectedDeliveries(),
                             accessLogs: try AccessLogRegistry(directory: nil), certificates: try UploadedCertificates(dataDir: nil))
        client = RouteClient { $0.addAPIRoutes(api) }
    }

    override func tearDown() { fixture.tearDown() }

    private struct Case {
        var method = "POST"
        var path = "/api/apps"
        var body: String?
        var contentType = "application/json"
        var status: Int
        var code: String
        var message: String
    }

    private func check(_ cases: [Case], file: StaticString = #filePath, line: UInt = #line) {
        for c in cases {
            var headers = auth
            if c.body != nil { headers.append(("Content-Type", c.contentType)) }
            let reply = client.send(c.method, c.path, headers: headers, body: Array((c.body ?? "").utf8), file: file, line: line)
            let what = "\(c.method) \(c.path) \(c.body ?? "")"
            XCTAssertEqual(reply.status, c.status, what, file: file, line: line)
            XCTAssertEqual(reply.errorCode, c.code, what, file: file, line: line)
            XCTAssertEqual(reply.errorMessage, c.message, what, file: file, line: line)
            XCTAssertEqual(reply.headers["Content-Type"], "application/json", what, file: file, line: line)
        }
    }

    private let repo = "https://example.com/o/web.git"

    func testCreatingAnApp() {
        let longName = String(repeating: "N", count: 257)
        let longValue = String(repeating: "v", count: 32 * 1024 + 1)
        check([
            Case(body: nil, status: 400, code: "bad_request", message: "a JSON object body is required"),
            Case(body: "[1]", status: 400, code: "bad_request", message: "the body must be a JSON object"),
            Case(body: "repo_url=x", contentType: "application/x-www-form-urlencoded", status: 415, code: "unsupported_media_type",
                 message: "the body must be JSON sent with Content-Type: application/json"),
            Case(body: #"{"repo_url": "\#(repo)", "brnach": "main"}"#, status: 400, code: "invalid_brnach", message: "unknown field 'brnach'"),
            Case(body: #"{"name": "web"}"#, status: 400, code: "invalid_repo_url", message: "repo_url is required"),
            Case(body: #"{"repo_url": 5}"#, status: 400, code: "invalid_repo_url", message: "repo_url must be a string"),
            Case(body: #"{"repo_url": "ftp://example.com/x"}"#, status: 400, code: "invalid_repo_url",
                 message: "repo_url: unsupported transport (use https://, http:// or ssh://)"),
            Case(body: #"{"repo_url": "https://user:pw@example.com/x"}"#, status: 400, code: "invalid_repo_url",
                 message: "repo_url must not contain credentials; set git_token or use a deploy key instead"),
            Case(body: #"{"repo_url": "\#(repo)", "name": "Web!"}"#, status: 400, code: "invalid_name",
                 message: "name must be 1 to 40 lowercase letters, digits and dashes, not starting or ending with a dash"),
            Case(body: #"{"repo_url": "\#(repo)", "branch": "a..b"}"#, status: 400, code: "invalid_branch",
                 message: "branch is not a valid git branch name"),
            Case(body: #"{"repo_url": "\#(repo)", "internal_port": 0}"#, status: 400, code: "invalid_internal_port",
                 message: "internal_port must be between 1 and 65535"),
            Case(body: #"{"repo_url": "\#(repo)", "internal_port": "80"}"#, status: 400, code: "invalid_internal_port",
                 message: "internal_port must be an integer"),
            Case(body: #"{"repo_url": "\#(repo)", "health_path": "health"}"#, status: 400, code: "invalid_health_path",
                 message: "health_path must start with '/' and contain no spaces or control characters"),
            Case(body: #"{"repo_url": "\#(repo)", "memory_mb": 5}"#, status: 400, code: "invalid_memory_mb",
                 message: "memory_mb must be between 6 and 1048576"),
            Case(body: #"{"repo_url": "\#(repo)", "cpus": 0}"#, status: 400, code: "invalid_cpus",
                 message: "cpus must be greater than 0 and at most 256"),
            Case(body: #"{"repo_url": "\#(repo)", "max_request_body": 0}"#, status: 400, code: "invalid_max_request_body",
                 message: "max_request_body must be from 1 byte to 64g (68719476736 bytes), got 0"),
            Case(body: #"{"repo_url": "\#(repo)", "max_request_body": "65g"}"#, status: 400, code: "invalid_max_request_body",
                 message: "max_request_body must be from 1 byte to 64g (68719476736 bytes), got 69793218560"),
            Case(body: #"{"repo_url": "\#(repo)", "max_request_body": "10 MB"}"#, status: 400, code: "invalid_max_request_body",
                 message: "max_request_body must be a number of bytes, or one with a k, m or g suffix such as 10m; got '10 MB'"),
            Case(body: #"{"repo_url": "\#(repo)", "max_request_body": "99999999999g"}"#, status: 400, code: "invalid_max_request_body",
                 message: "max_request_body must be a number of bytes, or one with a k, m or g suffix such as 10m; got '99999999999g'"),
            Case(body: #"{"repo_url": "\#(repo)", "max_request_body": 1.5}"#, status: 400, code: "invalid_max_request_body",
                 message: #"max_request_body must be an integer number of bytes, or a string such as "10m""#),
            Case(body: #"{"repo_url": "\#(repo)", "max_request_body": true}"#, status: 400, code: "invalid_max_request_body",
                 message: #"max_request_body must be an integer number of bytes, or a string such as "10m""#),
            Case(body: #"{"repo_url": "\#(repo)", "deploy": "yes"}"#, status: 400, code: "invalid_deploy", message: "deploy must be true or false"),
            Case(body: #"{"repo_url": "\#(repo)", "env": ["A"]}"#, status: 400, code: "invalid_env", message: "env must be an object of strings"),
            Case(body: #"{"repo_url": "\#(repo)", "env": {"A": 1}}"#, status: 400, code: "invalid_env",
                 message: "env: the value of A must be a string"),
            Case(body: #"{"repo_url": "\#(repo)", "env": {"1A": "x"}}"#, status: 400, code: "invalid_env",
                 message: "env: invalid variable name (use letters, digits and _, not starting with a digit)"),
            Case(body: #"{"repo_url": "\#(repo)", "env": {"\#(longName)": "x"}}"#, status: 400, code: "invalid_env",
                 message: "env: a variable name must be at most 256 bytes"),
            Case(body: #"{"repo_url": "\#(repo)", "env": {"A": "one\ntwo"}}"#, status: 400, code: "invalid_env",
                 message: "env: the value of A must not contain a newline or NUL"),
            Case(body: #"{"repo_url": "\#(repo)", "env": {"A": "\#(longValue)"}}"#, status: 400, code: "invalid_env",
                 message: "env: the value of A must be at most 32768 bytes"),
            Case(body: #"{"repo_url": "\#(repo)", "git_token": "two words"}"#, status: 400, code: "invalid_git_token",
                 message: "git_token must be a non-empty token without spaces or control characters"),
            Case(body: #"{"repo_url": "\#(repo)", "github_token": ""}"#, status: 400, code: "invalid_github_token",
                 message: "github_token must be a non-empty token without spaces or control characters"),
        ])
        XCTAssertEqual(try fixture.store.apps().count, 0, "no refused request left an app behind")
    }

    func testANameTakenIsAConflictNamingIt() {
        XCTAssertEqual(client.sendJSON("POST", "/api/apps", #"{"repo_url": "\#(repo)", "deploy": false}"#, headers: auth).status, 201)
        check([Case(body: #"{"repo_url": "\#(repo)", "deploy": false}"#, status: 409, code: "conflict",
                    message: "an app named web already exists")])
    }

    func testChangingAnAppChecksEverythingBeforeStoringAnything() throws {
        XCTAssertEqual(client.sendJSON("POST", "/api/apps", #"{"repo_url": "\#(repo)", "deploy": false}"#, headers: auth).status, 201)
        check([
            Case(method: "PATCH", path: "/api/apps/web", body: #"{"branch": "dev", "git_token": "two words"}"#, status: 400,
                 code: "invalid_git_token", message: "git_token must be a non-empty token without spaces or control characters"),
            Case(method: "PATCH", path: "/api/apps/web", body: #"{"internal_port": 70000}"#, status: 400, code: "invalid_internal_port",
                 message: "internal_port must be between 1 and 65535"),
            Case(method: "PATCH", path: "/api/apps/web", body: #"{"branch": "dev", "max_request_body": -1}"#, status: 400,
                 code: "invalid_max_request_body", message: "max_request_body must be from 1 byte to 64g (68719476736 bytes), got -1"),
            Case(method: "PATCH", path: "/api/apps/web", body: #"{"port": 8080}"#, status: 400, code: "invalid_port", message: "unknown field 'port'"),
            Case(method: "PATCH", path: "/api/apps/nobody", body: "{}", status: 404, code: "not_found", message: "no app named nobody"),
        ])
        XCTAssertEqual(try fixture.store.app(named: "web")?.branch, "main", "a refused change stored nothing")
    }

    func testQueriesAndActionsOnAnAppWithNothingDeployed() {
        XCTAssertEqual(client.sendJSON("POST", "/api/apps", #"{"repo_url": "\#(repo)", "deploy": false}"#, headers: auth).status, 201)
        check([
            Case(method: "GET", path: "/api/apps/web/deployments?limit=0", status: 400, code: "invalid_limit",
                 message: "limit must be between 1 and 1000"),
            Case(method: "GET", path: "/api/apps/web/logs?tail=x", status: 400, code: "invalid_tail", message: "tail must be between 1 and 10000"),
            Case(method: "GET", path: "/api/apps/web/logs", status: 409, code: "conflict", message: "web has no live deployment"),
            Case(method: "POST", path: "/api/apps/web/stop", status: 409, code: "conflict", message: "web has no live deployment"),
            Case(method: "POST", path: "/api/apps/web/rollback", status: 409, code: "conflict",
                 message: "web has no earlier successful deployment to roll back to"),
            Case(method: "POST", path: "/api/apps/web/rollback", body: #"{"deployment_id": "1"}"#, status: 400, code: "invalid_deployment_id",
                 message: "deployment_id must be an integer"),
            Case(method: "POST", path: "/api/apps/web/rollback", body: #"{"deployment_id": 99}"#, status: 400, code: "invalid_deployment_id",
                 message: "deployment 99 is not a deployment of web"),
            Case(method: "POST", path: "/api/apps/web/deployments", body: #"{"ref": "--upload-pack=x"}"#, status: 400, code: "invalid_ref",
                 message: "ref must be a branch, tag or commit sha"),
            Case(method: "POST", path: "/api/apps/web/redeploy", body: #"{"force": true}"#, status: 400, code: "invalid_force",
                 message: "unknown field 'force'"),
            Case(method: "GET", path: "/api/apps/web/deploy-key", status: 404, code: "not_found", message: "web has no deploy key"),
            Case(method: "GET", path: "/api/deployments/12345", status: 404, code: "not_found", message: "no deployment 12345"),
            Case(method: "GET", path: "/api/nothing", status: 404, code: "not_found", message: "not found"),
            Case(method: "PUT", path: "/api/apps/web", status: 405, code: "method_not_allowed", message: "method not allowed"),
        ])
    }

    func testEveryRouteWantsTheToken() {
        var n = 0
        for (method, path) in [("GET", "/api/apps"), ("POST", "/api/apps"), ("GET", "/api/apps/web"), ("DELETE", "/api/apps/web"),
                               ("POST", "/api/apps/web/redeploy"), ("GET", "/api/deployments/1/log")] {
            for header in [[], [("Authorization", "Bearer wrong")], [("Authorization", "Basic \(Self.token)")]] {
                // Each from an address of its own, under the failed-token throttle (APIGuardTests).
                n += 1
                let reply = client.send(method, path, headers: header, remoteAddress: "192.0.2.\(n)")
                XCTAssertEqual(reply.status, 401, "\(method) \(path) \(header)")
                XCTAssertEqual(reply.errorCode, "unauthorized")
                XCTAssertEqual(reply.headers["WWW-Authenticate"], "Bearer")
            }
        }
    }
}
