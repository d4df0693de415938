import Foundation
import PipelineTestSupport
import XCTest
@testable import Pipeline

final class DeployerTests: XCTestCase {
    private var fx: ServiceFixture!
    private var store: Store { fx.store }
    private var runtime: FakeRuntime { fx.runtime }

    override func setUpWithError() throws { fx = try ServiceFixture() }
    override func tearDownWithError() throws { fx.tearDown() }

    private func makeService(git: FakeGit = FakeGit()) throws -> AppService { try fx.makeService(git: git) }
    private func waitFinished(_ id: Int) throws -> Deployment { try fx.waitFinished(id) }
    private func get(_ port: Int) -> String? { fx.get(port) }

    func testDeployRedeployAndRollback() throws {
        let service = try makeService()
        let (created, first) = try service.create(.init(name: "web", settings: AppSettings(repoURL: "/srv/web"), env: [("A", "1")], deploy: true))
        let port = try XCTUnwrap(created.port)
        let d1 = try waitFinished(first!.id)
        XCTAssertEqual(d1.status, .succeeded, d1.error ?? "")
        XCTAssertEqual(d1.steps.map(\.name), ["clone", "build", "start", "check", "swap"])
        XCTAssertEqual(get(port), "slipway/web:1")
        let live = try XCTUnwrap(service.upstreams.upstream(for: created.id))
        XCTAssertEqual(live.current?.deploymentID, d1.id, "the access log names the deployment that answered")

        let d2 = try waitFinished(try service.deploy(try store.app(id: created.id)!, trigger: .redeploy).id)
        XCTAssertEqual(d2.status, .succeeded)
        XCTAssertEqual(get(port), "slipway/web:2")
        XCTAssertEqual(try store.app(id: created.id)?.liveDeploymentID, d2.id)
        XCTAssertEqual(live.current?.deploymentID, d2.id)

        let r = try waitFinished(try service.rollback(try store.app(id: created.id)!, to: nil).id)
        XCTAssertEqual(r.status, .succeeded)
        XCTAssertEqual(r.sourceDeploymentID, d1.id)
        XCTAssertEqual(r.steps.map(\.name), ["start", "check", "swap"], "a rollback does not build")
        XCTAssertEqual(get(port), "slipway/web:1")
        XCTAssertEqual(live.current?.deploymentID, r.id, "a rollback is a deployment of its own, on the old image")
        XCTAssertEqual(runtime.calls.filter { $0.hasPrefix("build") }.count, 2)
    }

    /// Every container of the app mounts its volumes as the app lists them now: a deployment, a
    /// rollback (today's list, not the old deployment's), and one the supervisor makes again.
    func testEveryContainerOfTheAppMountsItsVolumes() throws {
        let service = try makeService()
        let (created, first) = try service.create(.init(name: "web", settings: AppSettings(repoURL: "/srv/web"), env: [], deploy: true,
                                                        volumes: [AppVolume(name: "data", path: "/app/data")]))
        XCTAssertEqual(try waitFinished(first!.id).status, .succeeded)
        XCTAssertTrue(runtime.calls.contains("run slipway-web-\(first!.id) -v slipway-web-data:/app/data"), "\(runtime.calls)")
        XCTAssertEqual(try runtime.volumes(labels: []).map(\.app), ["web"], "made with the app's label")

        var app = try XCTUnwrap(try store.app(id: created.id))
        app = try service.update(app, settings: AppSettings(of: app), env: nil,
                                 volumes: [AppVolume(name: "data", path: "/app/data"), AppVolume(name: "logs", path: "/var/log/app")])
        let d2 = try waitFinished(try service.deploy(app, trigger: .redeploy).id)
        XCTAssertTrue(runtime.calls.contains("run slipway-web-\(d2.id) -v slipway-web-data:/app/data -v slipway-web-logs:/var/log/app"),
                      "\(runtime.calls)")
        let r = try waitFinished(try service.rollback(try store.app(id: created.id)!, to: nil).id)
        XCTAssertEqual(r.status, .succeeded)
        XCTAssertTrue(runtime.calls.contains("run slipway-web-\(r.id) -v slipway-web-data:/app/data -v slipway-web-logs:/var/log/app"),
                      "a rollback mounts the list as it is now: \(runtime.calls)")
    }

    func testFailedBuildLeavesTheLiveVersionServing() throws {
        let service = try makeService()
        let (app, first) = try service.create(.init(name: "web", settings: AppSettings(repoURL: "/srv/web"), env: [], deploy: true))
        XCTAssertEqual(try waitFinished(first!.id).status, .succeeded)
        runtime.state.withLock { $0.failBuild = true }
        let failed = try waitFinished(try service.deploy(try store.app(id: app.id)!, trigger: .redeploy).id)
        XCTAssertEqual(failed.status, .failed)
        XCTAssertTrue(failed.error?.contains("RUN false") == true)
        XCTAssertEqual(get(try XCTUnwrap(app.port)), "slipway/web:1")
        XCTAssertEqual(try store.app(id: app.id)?.status, .running)
        XCTAssertEqual(try store.app(id: app.id)?.liveDeploymentID, first!.id)
    }

    func testContainerThatExitsFailsAndIsRemoved() throws {
        let service = try makeService()
        runtime.state.withLock { $0.exitAtOnce = true }
        let (app, first) = try service.create(.init(name: "web", settings: AppSettings(repoURL: "/srv/web"), env: [], deploy: true))
        let d = try waitFinished(first!.id)
        XCTAssertEqual(d.status, .failed)
        XCTAssertTrue(d.error?.contains("exited") == true, d.error ?? "")
        XCTAssertTrue(runtime.calls.contains("rm slipway-web-\(d.id)"))
        XCTAssertEqual(try store.app(id: app.id)?.status, .failed)
        let log = try String(contentsOfFile: d.logPath!, encoding: .utf8)
        XCTAssertTrue(log.contains("fake log line"), "the container's last log lines go into the deployment log")
    }

    func testMissingDockerfileMessage() throws {
        let service = try makeService(git: FakeGit(missingDockerfile: true))
        let (_, first) = try service.create(.init(name: "web", settings: AppSettings(repoURL: "/srv/web"), env: [], deploy: true))
        XCTAssertEqual(try waitFinished(first!.id).error, "no Dockerfile at the repository root")
    }

    /// A pushed commit that is no longer the branch's tip is not deployed: the deployment ends
    /// skipped and the live version stays (replays and late deliveries never put old code live).
    func testAPushThatIsNoLongerTheTipIsSkipped() throws {
        let tip = String(repeating: "b", count: 40)
        let service = try makeService(git: FakeGit(tip: tip))
        let (app, first) = try service.create(.init(name: "web", settings: AppSettings(repoURL: "/srv/web"), env: [], deploy: true))
        XCTAssertEqual(try waitFinished(first!.id).status, .succeeded, "a manual deploy takes what it resolves")
        let old = String(repeating: "c", count: 40)
        let pushed = try XCTUnwrap(try service.deployPush(app, sha: old, deliveryID: "d-1", commitMessage: "old", commitAuthor: nil))
        let skipped = try waitFinished(pushed.id)
        XCTAssertEqual(skipped.status, .skipped)
        XCTAssertEqual(skipped.error, "skipped: \(old) is no longer the tip of main, which is now \(tip)")
        XCTAssertEqual(try store.app(id: app.id)?.liveDeploymentID, first!.id)
        XCTAssertEqual(try store.app(id: app.id)?.status, .running)
        XCTAssertFalse(runtime.calls.contains("build slipway/web:\(pushed.id)"), "nothing was built")

        let current = try XCTUnwrap(try service.deployPush(app, sha: tip, deliveryID: "d-2", commitMessage: "new", commitAuthor: nil))
        XCTAssertEqual(try waitFinished(current.id).status, .succeeded, "the tip deploys")
    }

    func testImagesBeyondKeepArePruned() throws {
        let service = try makeService()
        let (app, first) = try service.create(.init(name: "web", settings: AppSettings(repoURL: "/srv/web"), env: [], deploy: true))
        _ = try waitFinished(first!.id)
        for _ in 0..<2 { _ = try waitFinished(try service.deploy(try store.app(id: app.id)!, trigger: .redeploy).id) }
        XCTAssertTrue(runtime.calls.contains("rmi slipway/web:1"))
        XCTAssertFalse(runtime.calls.contains("rmi slipway/web:2"))
    }

    /// A container left with the name a deployment wants is removed, and the deployment goes on.
    func testLeftoverContainerWithTheSameNameIsReplaced() throws {
        let service = try makeService()
        let leftover = ContainerSpec(name: "slipway-web-1", image: "old", labels: [], envNames: [], internalPort: 5000,
                                     memoryMB: nil, cpus: nil)
        _ = try runtime.run(leftover, env: [], log: .discard())
        let (app, first) = try service.create(.init(name: "web", settings: AppSettings(repoURL: "/srv/web"), env: [], deploy: true))
        XCTAssertEqual(first?.id, 1)
        let d = try waitFinished(first!.id)
        XCTAssertEqual(d.status, .succeeded, d.error ?? "")
        XCTAssertTrue(runtime.calls.contains("rm slipway-web-1"), runtime.calls.joined(separator: "\n"))
        XCTAssertEqual(get(try XCTUnwrap(app.port)), "slipway/web:1")
    }
}
