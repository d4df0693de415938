import Foundation
import XCTest
@testable import Pipeline

final class DeployerTests: XCTestCase {
    private var dir: String!
    private var store: Store!
    private var runtime: FakeRuntime!
    private var service: AppService!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "slipway-deployer-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        store = try Store(path: dir + "/slipway.db")
        runtime = FakeRuntime()
    }

    override func tearDownWithError() throws {
        service?.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func makeService(git: FakeGit = FakeGit()) throws -> AppService {
        var settings = PipelineSettings(dataDir: dir, bindHost: "127.0.0.1", appPorts: 0...0, allowLocalRepos: true, maxBuilds: 1,
                                        keepImages: 2, buildTimeoutSeconds: 10, healthTimeoutSeconds: 2, drainSeconds: 0,
                                        extraLabels: [], instanceID: "test")
        // Port 0 lets the kernel choose, so parallel test runs never collide.
        settings.appPorts = 0...0
        service = try AppService(store: store, runtime: runtime, git: git, settings: settings)
        return service
    }

    private func waitFinished(_ id: Int) throws -> Deployment {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let d = try store.deployment(id: id), d.status.isFinished { return d }
            usleep(20_000)
        }
        XCTFail("deployment \(id) did not finish")
        return try store.deployment(id: id)!
    }

    private func get(_ port: Int) -> String? {
        guard let fd = try? Socket.connect(ipv4: "127.0.0.1", port: port, timeoutMilliseconds: 1000) else { return nil }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, 0)
        let req = Array("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
        _ = send(fd, req, req.count, Int32(MSG_NOSIGNAL))
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self).components(separatedBy: "\r\n\r\n").last
    }

    func testDeployRedeployAndRollback() throws {
        let service = try makeService()
        let (created, first) = try service.create(.init(name: "web", settings: AppSettings(repoURL: "/srv/web"), env: [("A", "1")], deploy: true))
        let port = created.port
        let d1 = try waitFinished(first!.id)
        XCTAssertEqual(d1.status, .succeeded, d1.error ?? "")
        XCTAssertEqual(d1.steps.map(\.name), ["clone", "build", "start", "check", "swap"])
        XCTAssertEqual(get(port), "slipway/web:1")

        let d2 = try waitFinished(try service.deploy(try store.app(id: created.id)!, trigger: .redeploy).id)
        XCTAssertEqual(d2.status, .succeeded)
        XCTAssertEqual(get(port), "slipway/web:2")
        XCTAssertEqual(try store.app(id: created.id)?.liveDeploymentID, d2.id)

        let r = try waitFinished(try service.rollback(try store.app(id: created.id)!, to: nil).id)
        XCTAssertEqual(r.status, .succeeded)
        XCTAssertEqual(r.sourceDeploymentID, d1.id)
        XCTAssertEqual(r.steps.map(\.name), ["start", "check", "swap"], "a rollback does not build")
        XCTAssertEqual(get(port), "slipway/web:1")
        XCTAssertEqual(runtime.calls.filter { $0.hasPrefix("build") }.count, 2)
    }

    func testFailedBuildLeavesTheLiveVersionServing() throws {
        let service = try makeService()
        let (app, first) = try service.create(.init(name: "web", settings: AppSettings(repoURL: "/srv/web"), env: [], deploy: true))
        XCTAssertEqual(try waitFinished(first!.id).status, .succeeded)
        runtime.state.withLock { $0.failBuild = true }
        let failed = try waitFinished(try service.deploy(try store.app(id: app.id)!, trigger: .redeploy).id)
        XCTAssertEqual(failed.status, .failed)
        XCTAssertTrue(failed.error?.contains("RUN false") == true)
        XCTAssertEqual(get(app.port), "slipway/web:1")
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

    func testImagesBeyondKeepArePruned() throws {
        let service = try makeService()
        let (app, first) = try service.create(.init(name: "web", settings: AppSettings(repoURL: "/srv/web"), env: [], deploy: true))
        _ = try waitFinished(first!.id)
        for _ in 0..<2 { _ = try waitFinished(try service.deploy(try store.app(id: app.id)!, trigger: .redeploy).id) }
        XCTAssertTrue(runtime.calls.contains("rmi slipway/web:1"))
        XCTAssertFalse(runtime.calls.contains("rmi slipway/web:2"))
    }
}
