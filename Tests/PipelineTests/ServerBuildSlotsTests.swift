import Foundation
import PipelineTestSupport
import SlipwaySystem
import XCTest
@testable import Pipeline

/// Each server builds on its own engine with its own slots: one whose builds hang never holds up
/// deployments to another.
final class ServerBuildSlotsTests: XCTestCase {
    func testADeploymentToAStuckServerDoesNotHoldUpOneToThisMachine() throws {
        let fx = try ServiceFixture()
        defer { fx.tearDown() }
        let slow = FakeRuntime()
        let gate = DispatchSemaphore(value: 0)
        slow.buildGate.withLock { $0 = gate }
        let directory = try ServerDirectory(store: fx.store, runner: NoProcesses(),
                                            settings: .init(root: fx.dir + "/servers", dockerExecutable: "docker", wrapperBinary: nil, instanceID: "t"))
        // Stored directly (the API refuses loopback): the fake engine publishes on loopback.
        var remote = try fx.store.createServer(name: "far", destination: SSHDestination(user: "u", host: "10.231.1.2"), address: "127.0.0.1")
        remote.state = .ready
        remote.hostKeyFingerprint = "SHA256:x"
        try fx.store.saveCheck(of: remote)
        // maxBuilds 1, as ServiceFixture's: one slot per server.
        let settings = PipelineSettings(dataDir: fx.dir, bindHost: "127.0.0.1", appPorts: nil, allowLocalRepos: true, maxBuilds: 1,
                                        keepImages: 2, buildTimeoutSeconds: 10, healthTimeoutSeconds: 2, drainSeconds: 0,
                                        extraLabels: [], instanceID: "test")
        let service = try AppService(store: fx.store, runtime: fx.runtime, git: FakeGit(), settings: settings,
                                     servers: directory, remoteRuntime: { _ in slow })
        defer { service.shutdown() }
        let (far, farFirst) = try service.create(.init(name: "far-app", settings: AppSettings(repoURL: "/srv/a", server: "far"), env: [], deploy: true))
        XCTAssertEqual(far.server, "far")
        let deadline = Date().addingTimeInterval(5)
        while try fx.store.deployment(id: farFirst!.id)?.status != .building, Date() < deadline { usleep(10_000) }
        XCTAssertEqual(try fx.store.deployment(id: farFirst!.id)?.status, .building, "the far server's build hangs")

        let (_, nearFirst) = try service.create(.init(name: "near-app", settings: AppSettings(repoURL: "/srv/b"), env: [], deploy: true))
        let near = try fx.waitFinished(nearFirst!.id)
        XCTAssertEqual(near.status, .succeeded, "this machine's slot is its own")
        XCTAssertEqual(near.server, "local")

        gate.signal()
        let farDone = try fx.waitFinished(farFirst!.id)
        XCTAssertEqual(farDone.status, .succeeded)
        XCTAssertEqual(farDone.server, "far")
        XCTAssertTrue(slow.calls.contains("build slipway/far-app:\(farFirst!.id)"), slow.calls.joined(separator: "\n"))
        XCTAssertFalse(fx.runtime.calls.contains { $0.hasPrefix("build slipway/far-app") }, "built on the far server's engine only")
    }
}

private struct NoProcesses: ProcessRunner {
    func run(_ spec: ProcessSpec, timeoutSeconds: Double, cancellation: Cancellation?, onOutput: (@Sendable (String) -> Void)?) throws -> ProcessResult {
        ProcessResult(termination: .exited(1), output: "no processes in this test")
    }
}
