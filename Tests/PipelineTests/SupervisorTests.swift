import Edge
import Foundation
import PipelineTestSupport
import XCTest
@testable import Pipeline

final class SupervisorTests: XCTestCase {
    private var fx: ServiceFixture!

    override func setUpWithError() throws { fx = try ServiceFixture() }
    override func tearDownWithError() throws { fx.tearDown() }

    private func deployedApp(_ service: AppService) throws -> App {
        let (app, first) = try service.create(.init(name: "web", settings: AppSettings(repoURL: "/srv/web"), env: [], deploy: true))
        XCTAssertEqual(try fx.waitFinished(first!.id).status, .succeeded)
        return try fx.store.app(id: app.id)!
    }

    func testMissingLiveContainerIsRecreatedFromItsImage() throws {
        let service = try fx.makeService()
        let app = try deployedApp(service)
        let supervisor = AppSupervisor(service: service)
        supervisor.tick()
        let live = Naming.container(app: app.name, deployment: app.liveDeploymentID!)
        try fx.runtime.remove(container: live)
        XCTAssertNotEqual(fx.get(try XCTUnwrap(app.port)), "slipway/web:1", "the app is not served once its container is gone")

        supervisor.tick()
        XCTAssertEqual(fx.runtime.calls.filter { $0 == "run \(live)" }.count, 2, fx.runtime.calls.joined(separator: "\n"))
        XCTAssertEqual(fx.get(try XCTUnwrap(app.port)), "slipway/web:1")
        XCTAssertEqual(try fx.store.app(id: app.id)?.status, .running)
        XCTAssertEqual(service.upstreams.upstream(for: app.id)?.current?.deploymentID, app.liveDeploymentID)
    }

    /// A container Docker restarted on a new port is followed, and still named by its deployment
    /// in the access log.
    func testAContainerOnANewPortIsFollowedAndKeepsItsDeployment() throws {
        let service = try fx.makeService()
        let app = try deployedApp(service)
        let live = try XCTUnwrap(service.upstreams.upstream(for: app.id))
        let port = try XCTUnwrap(live.current?.port)
        live.setUpstream(port: 1, deploymentID: nil)
        AppSupervisor(service: service).tick()
        XCTAssertEqual(live.current?.port, port)
        XCTAssertEqual(live.current?.deploymentID, app.liveDeploymentID)
    }

    /// Start and restart point the edge at the live container with its deployment.
    func testStartAndRestartKeepTheDeploymentOfTheLiveContainer() throws {
        let service = try fx.makeService()
        let app = try deployedApp(service)
        let live = try XCTUnwrap(service.upstreams.upstream(for: app.id))
        _ = try service.stop(app)
        XCTAssertNil(live.current)
        _ = try service.start(app)
        XCTAssertEqual(live.current?.deploymentID, app.liveDeploymentID)
        live.setUpstream(port: 1, deploymentID: nil)
        _ = try service.restart(app)
        XCTAssertEqual(live.current?.deploymentID, app.liveDeploymentID)
    }

    /// A restart tells new requests the app is restarting (503 with Retry-After at the edge), and
    /// lets those already in its container finish before stopping it.
    func testRestartDrainsRequestsInFlightBeforeTheStop() throws {
        let service = try fx.makeService(drainSeconds: 10)
        let app = try deployedApp(service)
        let live = try XCTUnwrap(service.upstreams.upstream(for: app.id))
        guard case .upstream(let inFlight) = live.acquire() else { return XCTFail("the deployed app has no upstream") }
        let restarted = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? service.restart(app)
            restarted.signal()
        }
        // What a new request is told, without holding the upstream (which the drain would wait for).
        func admission() -> LiveUpstream.Admission {
            let a = live.acquire()
            if case .upstream(let u) = a { live.release(u) }
            return a
        }
        let deadline = Date().addingTimeInterval(5)
        while admission() != .unavailable(.restarting) && Date() < deadline { usleep(2_000) }
        XCTAssertEqual(admission(), .unavailable(.restarting))
        usleep(100_000)
        XCTAssertFalse(fx.runtime.calls.contains { $0.hasPrefix("stop ") }, "stopped while a request was in flight")
        live.release(inFlight)
        XCTAssertEqual(restarted.wait(timeout: .now() + 5), .success)
        XCTAssertTrue(fx.runtime.calls.contains { $0.hasPrefix("stop ") })
        XCTAssertEqual(live.current?.deploymentID, app.liveDeploymentID)
    }

    /// The supervisor looks while a delete is half done: the container is gone but the app's row is
    /// not yet. It must not take the container for one that went missing and bring it back.
    func testDeleteRacingTheSupervisorLeavesNoContainer() throws {
        let service = try fx.makeService()
        let app = try deployedApp(service)
        let supervisor = AppSupervisor(service: service)
        supervisor.tick()
        let runsBefore = fx.runtime.calls.filter { $0.hasPrefix("run ") }.count

        let looked = DispatchSemaphore(value: 0)
        fx.runtime.state.withLock { s in
            s.afterNextRemove = {
                Thread.detachNewThread {
                    supervisor.tick()
                    looked.signal()
                }
                // Gives the supervisor its chance to act inside the window; with the app locked it
                // cannot, and this wait ends by its deadline.
                if looked.wait(timeout: .now() + 0.5) == .success { looked.signal() }
            }
        }
        try service.delete(app)
        XCTAssertEqual(looked.wait(timeout: .now() + 10), .success, "the supervisor's tick never finished")

        XCTAssertNil(try fx.store.app(id: app.id))
        XCTAssertEqual(try fx.runtime.containers(labels: ["\(Naming.appLabel)=web"]).map(\.name), [],
                       fx.runtime.calls.joined(separator: "\n"))
        XCTAssertEqual(fx.runtime.calls.filter { $0.hasPrefix("run ") }.count, runsBefore, "no container was re-created")
    }

    /// A stop that finishes between the supervisor's listing and its look at the app is not a crash.
    func testStopIsNotMistakenForACrash() throws {
        let service = try fx.makeService()
        let app = try deployedApp(service)
        let supervisor = AppSupervisor(service: service)
        supervisor.tick()
        _ = try service.stop(app)
        let live = Naming.container(app: app.name, deployment: app.liveDeploymentID!)
        fx.runtime.state.withLock { $0.containers[live]?.running = false }
        supervisor.tick()
        XCTAssertEqual(try fx.store.app(id: app.id)?.status, .stopped)
        XCTAssertFalse(fx.runtime.calls.contains("start \(live)"), "a stopped app stays stopped")
    }

    /// `--app-ports off`: a deployment goes live with no forwarder, the log says so, and
    /// `prepare` opens no port, not even one an app kept from an earlier run.
    func testWithoutAppPortsNothingListensAndDeploymentsStillGoLive() throws {
        let kept = try fx.store.createApp(name: "old", settings: AppSettings(repoURL: "/srv/old"), port: 0, env: [])
        let service = try fx.makeService(appPorts: nil)
        try AppSupervisor(service: service).prepare()
        XCTAssertNil(service.forwarders.forwarder(for: kept.id))
        XCTAssertEqual(try fx.store.app(id: kept.id)?.port, 0, "the stored port is kept")

        let app = try deployedApp(service)
        XCTAssertNil(app.port)
        XCTAssertNil(service.forwarders.forwarder(for: app.id))
        XCTAssertEqual(app.status, .running)
        let log = try String(contentsOfFile: service.settings.logPath(deploymentID: try XCTUnwrap(app.liveDeploymentID)), encoding: .utf8)
        XCTAssertTrue(log.contains("the new container is live; the app has no open port"), log)
        XCTAssertFalse(log.contains("now forwards"), log)
    }

    /// An app made under `--app-ports off` gets a port when the server runs with ports again.
    func testAnAppWithoutAPortGetsOneWhenPortsAreServed() throws {
        let app = try fx.store.createApp(name: "web", settings: AppSettings(repoURL: "/srv/web"), port: nil, env: [])
        let service = try fx.makeService()
        try AppSupervisor(service: service).prepare()
        let forwarder = try XCTUnwrap(service.forwarders.forwarder(for: app.id))
        XCTAssertEqual(try fx.store.app(id: app.id)?.port, forwarder.port)
    }
}
