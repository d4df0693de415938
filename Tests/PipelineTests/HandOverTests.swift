import Edge
import Foundation
import PipelineTestSupport
import XCTest
@testable import Pipeline

/// What an upgrade's hand-over and a restart need of the queue and the supervisor: queued
/// deployments survive them, and a paused supervisor leaves the apps alone.
final class HandOverTests: XCTestCase {
    private var fx: ServiceFixture!

    override func setUpWithError() throws { fx = try ServiceFixture() }
    override func tearDownWithError() throws { fx.tearDown() }

    func testARestartRunsAQueuedDeploymentAndInterruptsOneThatHadStarted() throws {
        let app = try fx.store.createApp(name: "web", settings: AppSettings(repoURL: "/srv/web"), port: nil, env: [])
        var started = try fx.store.createDeployment(appID: app.id, trigger: .manual)
        started.status = .building
        try fx.store.save(started)
        let other = try fx.store.createApp(name: "api", settings: AppSettings(repoURL: "/srv/api"), port: nil, env: [])
        let queued = try fx.store.createDeployment(appID: other.id, trigger: .webhook)

        let service = try fx.makeService()
        service.queue.pause()
        try AppSupervisor(service: service).prepare()
        XCTAssertEqual(try fx.store.deployment(id: started.id)?.status, .interrupted)
        XCTAssertTrue(service.queue.has(deploymentID: queued.id), "the queued deployment waits in the queue")
        service.queue.resume()
        XCTAssertEqual(try fx.waitFinished(queued.id).status, .succeeded)
    }

    func testTheSupervisorAdoptsAQueuedDeploymentOnlyItsQueueLacksAndOnlyOnceItIsAFewSecondsOld() throws {
        let service = try fx.makeService()
        let supervisor = AppSupervisor(service: service)
        try supervisor.prepare()
        let (app, _) = try service.create(.init(name: "web", settings: AppSettings(repoURL: "/srv/web"), env: [], deploy: false))
        service.queue.pause()
        // Stored by another process (the one an upgrade took over from), never given to this queue.
        let orphan = try fx.store.createDeployment(appID: app.id, trigger: .webhook)
        try supervisor.adoptQueuedDeployments(now: Date())
        XCTAssertFalse(service.queue.has(deploymentID: orphan.id), "a request may be between storing and queueing it")
        try supervisor.adoptQueuedDeployments(now: Date().addingTimeInterval(10))
        XCTAssertTrue(service.queue.has(deploymentID: orphan.id))
        service.queue.resume()
        XCTAssertEqual(try fx.waitFinished(orphan.id).status, .succeeded)
    }

    func testEnqueueingAgainDoesNothingAndAnOlderDeploymentLosesToANewerOne() throws {
        let service = try fx.makeService()
        let (app, _) = try service.create(.init(name: "web", settings: AppSettings(repoURL: "/srv/web"), env: [], deploy: false))
        service.queue.pause()
        let older = try fx.store.createDeployment(appID: app.id, trigger: .webhook)
        let newer = try fx.store.createDeployment(appID: app.id, trigger: .webhook)
        service.queue.enqueue(newer)
        service.queue.enqueue(newer)
        XCTAssertEqual(try fx.store.deployment(id: newer.id)?.status, .queued, "queued twice is queued once, not superseded by itself")
        service.queue.enqueue(older)
        XCTAssertEqual(try fx.store.deployment(id: older.id)?.status, .superseded)
        XCTAssertTrue(service.queue.has(deploymentID: newer.id))
        service.queue.resume()
        XCTAssertEqual(try fx.waitFinished(newer.id).status, .succeeded)
        XCTAssertEqual(service.queue.waitUntilIdle(seconds: 5), 0)
    }

    func testAPausedSupervisorLeavesTheAppsAlone() throws {
        let service = try fx.makeService()
        let supervisor = AppSupervisor(service: service)
        try supervisor.prepare()
        let (app, first) = try service.create(.init(name: "web", settings: AppSettings(repoURL: "/srv/web"), env: [], deploy: true))
        XCTAssertEqual(try fx.waitFinished(first!.id).status, .succeeded)
        supervisor.tick()
        let live = Naming.container(app: app.name, deployment: first!.id)
        try fx.runtime.remove(container: live)
        let runs = { self.fx.runtime.calls.filter { $0 == "run \(live)" }.count }
        let before = runs()

        supervisor.pause()
        supervisor.tick()
        XCTAssertEqual(runs(), before, "paused (the successor of an upgrade looks after the apps), nothing is started")
        supervisor.resume()
        supervisor.tick()
        XCTAssertEqual(runs(), before + 1, "resumed, the missing container is made again")
    }
}
