import Edge
import Foundation
import PipelineTestSupport
import XCTest
@testable import Pipeline

/// The edge's body limit per app: the app's own when it has one, else the server's; changed by
/// an edit for the next request, and set again from the store when the server starts.
final class AppEdgeRoutesTests: XCTestCase {
    private var fx: ServiceFixture!

    override func setUpWithError() throws { fx = try ServiceFixture() }
    override func tearDownWithError() throws { fx.tearDown() }

    private static let serverLimit = 5000

    private func routes(_ service: AppService) throws -> AppEdgeRoutes {
        AppEdgeRoutes(dashboardDomain: "deploy.example.com", upstreams: service.upstreams,
                      accessLogs: try AccessLogRegistry(directory: nil), defaultMaxRequestBody: Self.serverLimit,
                      appForHost: { [domains = service.domains] in domains.resolve(host: $0) })
    }

    /// The limit the edge applies to a request for `host`; nil when the host is no app's.
    private func limit(_ routes: AppEdgeRoutes, _ host: String) -> Int? {
        guard case .app(let app) = routes.route(host: host) else { return nil }
        return app.maxRequestBody
    }

    private func new(_ name: String, limit: Int?) -> AppService.NewApp {
        .init(name: name, settings: AppSettings(repoURL: "/srv/\(name)", maxRequestBody: limit), env: [], deploy: false,
              domains: ["\(name).example.com"])
    }

    func testTheAppsOwnLimitElseTheServers() throws {
        let service = try fx.makeService(appPorts: nil)
        let edge = try routes(service)
        let small = try service.create(new("small", limit: 1000)).app
        _ = try service.create(new("plain", limit: nil))
        XCTAssertEqual(limit(edge, "small.example.com"), 1000)
        XCTAssertEqual(limit(edge, "plain.example.com"), Self.serverLimit)
        XCTAssertNil(limit(edge, "nobody.example.com"))

        // An edit counts from the next request: up past the server's, then back to it.
        var settings = AppSettings(of: small)
        settings.maxRequestBody = 1 << 30
        let raised = try service.update(small, settings: settings, env: nil)
        XCTAssertEqual(raised.maxRequestBody, 1 << 30)
        XCTAssertEqual(limit(edge, "small.example.com"), 1 << 30)
        settings.maxRequestBody = nil
        _ = try service.update(raised, settings: settings, env: nil)
        XCTAssertEqual(limit(edge, "small.example.com"), Self.serverLimit)

        // A refused edit leaves the limit the edge applies as it was.
        settings.maxRequestBody = 0
        XCTAssertThrowsError(try service.update(raised, settings: settings, env: nil)) {
            XCTAssertEqual(($0 as? ValidationError)?.field, "max_request_body")
        }
        XCTAssertThrowsError(try service.create(new("bad", limit: (64 << 30) + 1)))
        XCTAssertNil(try fx.store.app(named: "bad"))
        XCTAssertEqual(limit(edge, "small.example.com"), Self.serverLimit)
    }

    /// A restarted server reads each app's limit from the store (the supervisor's `prepare`).
    func testTheSupervisorSetsTheStoredLimitAtStart() throws {
        let first = try fx.makeService(appPorts: nil)
        let small = try first.create(new("small", limit: 1000)).app
        let plain = try first.create(new("plain", limit: nil)).app
        first.shutdown()

        let service = try fx.makeService(appPorts: nil)
        XCTAssertNil(service.upstreams.upstream(for: small.id), "a new service knows no upstream before prepare")
        try AppSupervisor(service: service).prepare()
        XCTAssertEqual(service.upstreams.upstream(for: small.id)?.maxRequestBody, 1000)
        XCTAssertNil(service.upstreams.upstream(for: plain.id)?.maxRequestBody)
        let edge = try routes(service)
        XCTAssertEqual(limit(edge, "small.example.com"), 1000)
        XCTAssertEqual(limit(edge, "plain.example.com"), Self.serverLimit)
    }
}
