import Foundation
import PipelineTestSupport
import SlipwaySystem
import XCTest
@testable import Pipeline

/// Domains through AppService: what is stored, what the edge's table says, and that a refusal
/// changes neither; and apps under `--app-ports off`.
final class AppServiceDomainsTests: XCTestCase {
    private var fx: ServiceFixture!

    override func setUpWithError() throws { fx = try ServiceFixture() }
    override func tearDownWithError() throws { fx.tearDown() }

    private func new(_ name: String, _ domains: [String]) -> AppService.NewApp {
        .init(name: name, settings: AppSettings(repoURL: "/srv/\(name)"), env: [], deploy: false, domains: domains)
    }

    func testCreateUpdateAndDeletePublishTheTable() throws {
        let service = try fx.makeService()
        let start = service.domains.version
        let web = try service.create(new("web", ["WWW.Example.com.", "*.example.com"])).app
        XCTAssertEqual(web.domains.map(\.value), ["www.example.com", "*.example.com"])
        XCTAssertGreaterThan(service.domains.version, start)
        XCTAssertEqual(service.domainTable().resolve(host: "www.example.com"), web.id)
        XCTAssertEqual(service.domainTable().resolve(host: "shop.example.com:8080"), web.id)

        let blog = try service.create(new("blog", ["blog.example.org"])).app
        XCTAssertEqual(service.domainTable().resolve(host: "blog.example.org"), blog.id)

        // PATCH semantics: nil keeps, a list replaces, [] clears.
        var version = service.domains.version
        let kept = try service.update(web, settings: AppSettings(repoURL: "/srv/web"), env: nil, domains: nil)
        XCTAssertEqual(kept.domains, web.domains)
        let replaced = try service.update(web, settings: AppSettings(repoURL: "/srv/web"), env: nil, domains: ["example.com"])
        XCTAssertEqual(replaced.domains.map(\.value), ["example.com"])
        XCTAssertGreaterThan(service.domains.version, version)
        XCTAssertNil(service.domainTable().resolve(host: "shop.example.com"))
        XCTAssertEqual(service.domainTable().resolve(host: "example.com"), web.id)
        version = service.domains.version
        let cleared = try service.update(web, settings: AppSettings(repoURL: "/srv/web"), env: nil, domains: [])
        XCTAssertEqual(cleared.domains, [])
        XCTAssertGreaterThan(service.domains.version, version)
        XCTAssertNil(service.domainTable().resolve(host: "example.com"))

        try service.delete(blog)
        XCTAssertNil(service.domainTable().resolve(host: "blog.example.org"))
    }

    /// A refused request stores nothing: no app, no settings, no domains, and the table stays.
    func testRefusalsChangeNothing() throws {
        let service = try fx.makeService(dashboardHostNames: ["deploy.example.com"])
        let web = try service.create(new("web", ["example.com"])).app
        let version = service.domains.version

        XCTAssertThrowsError(try service.create(new("shop", ["shop.example.com", "Example.COM"]))) {
            XCTAssertEqual($0 as? StoreError, .domainTaken("example.com", app: "web"))
        }
        XCTAssertThrowsError(try service.create(new("shop", ["shop_1.example.com"]))) {
            XCTAssertEqual(($0 as? ValidationError)?.message,
                           "domains: shop_1.example.com has the character '_'; a label is letters, digits and hyphens")
        }
        XCTAssertThrowsError(try service.create(new("shop", ["deploy.example.com"]))) {
            XCTAssertEqual(($0 as? ValidationError)?.field, "domains")
        }
        XCTAssertNil(try fx.store.app(named: "shop"))

        let blog = try service.create(new("blog", [])).app
        let changed = AppSettings(repoURL: "/srv/blog", branch: "other")
        XCTAssertThrowsError(try service.update(blog, settings: changed, env: [("A", "1")], domains: ["blog.example.org", "example.com"])) {
            XCTAssertEqual(($0 as? StoreError)?.description, "example.com is already a domain of app web")
        }
        XCTAssertThrowsError(try service.update(blog, settings: changed, env: [("A", "1")], domains: ["192.0.2.1"])) {
            XCTAssertEqual(($0 as? ValidationError)?.message, "domains: 192.0.2.1 is an IP address; a domain is a host name")
        }
        let stored = try XCTUnwrap(try fx.store.app(id: blog.id))
        XCTAssertEqual(stored.branch, blog.branch)
        XCTAssertEqual(stored.domains, [])
        XCTAssertEqual(try fx.store.env(appID: blog.id).count, 0)
        XCTAssertEqual(try fx.store.domains(appID: web.id).map(\.value), ["example.com"])
        XCTAssertEqual(service.domains.version, version, "no refused request republished the table")
        XCTAssertEqual(service.domainTable().resolve(host: "example.com"), web.id)
    }

    /// A service that starts on a store with domains routes by them at once.
    func testTheTableIsBuiltAtStart() throws {
        let web = try fx.store.createApp(name: "web", settings: AppSettings(repoURL: "/srv/web"), port: nil, env: [],
                                         domains: [try DomainName(parsing: "example.com")])
        let service = try fx.makeService()
        XCTAssertEqual(service.domainTable().resolve(host: "example.com"), web.id)
        XCTAssertEqual(service.domains.version, 1)
    }

    /// `--app-ports off`: a new app gets no port and no forwarder, and its URL is its first exact
    /// domain on the edge, or none without an edge.
    func testWithoutAppPortsAnAppHasNoPortAndNoForwarder() throws {
        let service = try fx.makeService(appPorts: nil)
        let web = try service.create(new("web", ["*.example.com", "www.example.com"])).app
        XCTAssertNil(web.port)
        XCTAssertNil(try fx.store.app(id: web.id)?.port)
        XCTAssertNil(service.forwarders.forwarder(for: web.id))
        let address = AppAddress(web, appsHost: "127.0.0.1", portsServed: false, edgePort: 80)
        XCTAssertNil(address.port)
        XCTAssertEqual(address.url, "http://www.example.com", "the first exact domain; a wildcard names no host to open")
        XCTAssertNil(AppAddress(web, appsHost: "127.0.0.1", portsServed: false, edgePort: nil).url, "nothing serves it")
        let bare = AppAddress(try service.create(new("bare", [])).app, appsHost: "127.0.0.1", portsServed: false, edgePort: 80)
        XCTAssertNil(bare.port)
        XCTAssertNil(bare.url)
    }

    /// The URL, and each domain's link, by what the server serves: a domain only while the edge
    /// runs (with its port unless 80), else the port URL.
    func testTheURLIsTheFirstExactDomainOnTheEdgeElseThePort() throws {
        var app = try fx.store.createApp(name: "web", settings: AppSettings(repoURL: "/srv/web"), port: 8001, env: [])
        let none: [String] = []
        let one = ["*.example.com"]
        let some = ["*.example.com", "b.example.com", "a.example.com"]
        let cases: [(domains: [String], portsServed: Bool, edgePort: Int?, url: String?, links: [String?])] = [
            (none, true, 80, "http://apps.example.net:8001", []),
            (one, true, 80, "http://apps.example.net:8001", [nil]),
            (some, true, 80, "http://b.example.com", [nil, "http://b.example.com", "http://a.example.com"]),
            (some, true, 8080, "http://b.example.com:8080", [nil, "http://b.example.com:8080", "http://a.example.com:8080"]),
            (some, false, 8080, "http://b.example.com:8080", [nil, "http://b.example.com:8080", "http://a.example.com:8080"]),
            (some, true, nil, "http://apps.example.net:8001", [nil, nil, nil]),
            (some, false, nil, nil, [nil, nil, nil]),
        ]
        for c in cases {
            app.domains = try c.domains.map { try DomainName(parsing: $0) }
            let address = AppAddress(app, appsHost: "apps.example.net", portsServed: c.portsServed, edgePort: c.edgePort)
            let label = "\(c.domains) ports \(c.portsServed) edge \(c.edgePort.map(String.init) ?? "off")"
            XCTAssertEqual(address.url, c.url, label)
            XCTAssertEqual(app.domains.map(address.link(to:)), c.links, label)
            // A port kept from before --app-ports off is not shown while ports are not served.
            XCTAssertEqual(address.port, c.portsServed ? 8001 : nil, label)
        }
    }
}
