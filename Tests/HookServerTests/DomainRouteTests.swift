import Edge
import PipelineTestSupport
import SlipwayHTTP
import SlipwaySystem
import XCTest
@testable import HookServer
@testable import Pipeline

/// Domains through the JSON API, as APIValidationTests does the rest: each refused name is a 400
/// naming it and why, a name another app has is a 409 naming that app, and PATCH replaces,
/// clears or keeps the list. A real AppService over a temporary store; no socket.
final class DomainRouteTests: XCTestCase {
    private var fixture: ServiceFixture!
    private var client: RouteClient!
    private var service: AppService!
    private static let token = "route-test-token-0123456789abcdef"
    private let auth = [("Authorization", "Bearer \(DomainRouteTests.token)")]
    private let repo = "https://example.com/o/web.git"

    override func setUpWithError() throws {
        fixture = try ServiceFixture()
        var config = Configuration()
        config.publicURL = "https://deploy.example.com"
        config.appsHost = "apps.example.net"
        // The production set-up: the edge on port 80 serves the apps' domains.
        config.httpPort = 80
        service = try fixture.makeService(dashboardHostNames: config.dashboardHostNames)
        let credentials = try Credentials(store: fixture.store, configuredPassword: "route-test-password", configuredToken: Self.token)
        let api = APIContext(service: service, credentials: credentials, config: config, rejectedDeliveries: RejectedDeliveries(),
                             accessLogs: try AccessLogRegistry(directory: nil), certificates: try UploadedCertificates(dataDir: nil))
        client = RouteClient { $0.addAPIRoutes(api) }
    }

    override func tearDown() { fixture.tearDown() }

    private func send(_ method: String, _ path: String, _ body: String) -> RouteClient.Reply {
        client.sendJSON(method, path, body, headers: auth)
    }

    private func create(_ name: String, domains: String) -> RouteClient.Reply {
        send("POST", "/api/apps", #"{"repo_url": "\#(repo)", "name": "\#(name)", "deploy": false, "domains": \#(domains)}"#)
    }

    private func domains(_ reply: RouteClient.Reply) -> [String]? {
        guard case .array(let items)? = reply.json?["domains"] else { return nil }
        return items.compactMap(\.stringValue)
    }

    func testInvalidNamesAreRefusedNamingTheNameAndWhy() throws {
        let hundredAndOne = "[" + (1...101).map { #""n\#($0).example.com""# }.joined(separator: ",") + "]"
        let cases: [(String, String)] = [
            (#""example.com""#, "domains must be an array of strings"),
            (#"["example.com", 5]"#, "domains must be an array of strings"),
            (#"["exa_mple.com"]"#, "domains: exa_mple.com has the character '_'; a label is letters, digits and hyphens"),
            (#"["ok.example.com", "-bad.example.com"]"#, "domains: -bad.example.com has a label that starts or ends with a hyphen"),
            (#"["192.0.2.7"]"#, "domains: 192.0.2.7 is an IP address; a domain is a host name"),
            (#"["[2001:db8::1]"]"#, "domains: [2001:db8::1] is an IP address; a domain is a host name"),
            (#"["example.com:8080"]"#, "domains: example.com:8080 has a port; give the host name alone"),
            (#"["https://example.com/"]"#, "domains: https://example.com/ is a URL or a path; give the host name alone, as in example.com"),
            (#"["www.*.example.com"]"#, "domains: www.*.example.com has a '*' that is not the whole first label; a wildcard is written *.example.com"),
            (#"["*.com"]"#, "domains: *.com would cover a whole top-level domain; write a wildcard as *.example.com"),
            (#"["intranet"]"#, "domains: intranet is a single label; a domain has at least two, as in example.com"),
            (#"["a.example.com", "A.Example.com."]"#, "domains: a.example.com is given more than once"),
            (#"["Deploy.Example.com"]"#, "domains: deploy.example.com is the dashboard's own host name; an app cannot have it"),
            (hundredAndOne, "domains: at most 100 per app, got 101"),
        ]
        for (list, message) in cases {
            let reply = create("web", domains: list)
            XCTAssertEqual(reply.status, 400, list)
            XCTAssertEqual(reply.errorCode, "invalid_domains", list)
            XCTAssertEqual(reply.errorMessage, message, list)
        }
        XCTAssertEqual(try fixture.store.apps().count, 0, "no refused request left an app behind")
    }

    func testNamesAreStoredNormalisedAndTheURLIsTheFirstExactOne() {
        let reply = create("web", domains: #"["*.Example.COM", "WWW.Example.com.", "example.com"]"#)
        XCTAssertEqual(reply.status, 201, reply.text)
        XCTAssertEqual(domains(reply), ["*.example.com", "www.example.com", "example.com"])
        XCTAssertEqual(reply.json?["url"]?.stringValue, "http://www.example.com")
        let got = client.send("GET", "/api/apps/web", headers: auth)
        XCTAssertEqual(domains(got), ["*.example.com", "www.example.com", "example.com"])
        let listed = client.send("GET", "/api/apps", headers: auth)
        guard case .array(let apps)? = listed.json else { return XCTFail(listed.text) }
        XCTAssertEqual(apps.first?["url"]?.stringValue, "http://www.example.com")

        let bare = create("blog", domains: "[]")
        XCTAssertEqual(domains(bare), [])
        XCTAssertEqual(bare.json?["url"]?.stringValue, "http://apps.example.net:\(bare.json?["port"]?.intValue ?? -1)")
    }

    func testANameOfAnotherAppIsAConflictNamingIt() throws {
        XCTAssertEqual(create("web", domains: #"["example.com", "*.example.com"]"#).status, 201)
        let taken = create("blog", domains: #"["blog.example.org", "EXAMPLE.com"]"#)
        XCTAssertEqual(taken.status, 409)
        XCTAssertEqual(taken.errorCode, "conflict")
        XCTAssertEqual(taken.errorMessage, "example.com is already a domain of app web")
        XCTAssertNil(try fixture.store.app(named: "blog"))

        XCTAssertEqual(create("blog", domains: #"["blog.example.org"]"#).status, 201)
        let patched = send("PATCH", "/api/apps/blog", #"{"branch": "dev", "domains": ["news.example.org", "*.example.com"]}"#)
        XCTAssertEqual(patched.status, 409)
        XCTAssertEqual(patched.errorMessage, "*.example.com is already a domain of app web")
        let blog = try XCTUnwrap(try fixture.store.app(named: "blog"))
        XCTAssertEqual(blog.branch, "main", "a refused PATCH stored nothing")
        XCTAssertEqual(blog.domains.map(\.value), ["blog.example.org"])
    }

    func testPatchReplacesClearsOrKeepsTheList() throws {
        XCTAssertEqual(create("web", domains: #"["a.example.com", "b.example.com"]"#).status, 201)
        let id = try XCTUnwrap(try fixture.store.app(named: "web")?.id)
        let kept = send("PATCH", "/api/apps/web", #"{"branch": "dev"}"#)
        XCTAssertEqual(domains(kept), ["a.example.com", "b.example.com"], "absent: unchanged")
        let keptByNull = send("PATCH", "/api/apps/web", #"{"domains": null}"#)
        XCTAssertEqual(domains(keptByNull), ["a.example.com", "b.example.com"], "null: unchanged")
        let replaced = send("PATCH", "/api/apps/web", #"{"domains": ["C.example.com"]}"#)
        XCTAssertEqual(domains(replaced), ["c.example.com"])
        XCTAssertEqual(replaced.json?["url"]?.stringValue, "http://c.example.com")
        XCTAssertEqual(service.domainTable().resolve(host: "c.example.com"), id, "the edge's table follows")
        let refused = send("PATCH", "/api/apps/web", #"{"domains": ["ok.example.com", "bad..example.com"]}"#)
        XCTAssertEqual(refused.status, 400)
        XCTAssertEqual(refused.errorMessage, "domains: bad..example.com has an empty label")
        let cleared = send("PATCH", "/api/apps/web", #"{"domains": []}"#)
        XCTAssertEqual(domains(cleared), [])
        XCTAssertNil(service.domainTable().resolve(host: "c.example.com"))
    }
}
