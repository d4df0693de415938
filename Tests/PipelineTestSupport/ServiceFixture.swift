import Foundation
import SlipwaySystem
import Pipeline

/// An AppService over a real store in a temporary directory, a FakeRuntime and FakeGit: shared by
/// the tests of deploying and of supervising.
public final class ServiceFixture {
    public let dir: String
    public let store: Store
    public let runtime = FakeRuntime()
    public private(set) var service: AppService!

    public init() throws {
        dir = NSTemporaryDirectory() + "slipway-service-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        store = try Store(path: dir + "/slipway.db")
    }

    public func tearDown() {
        service?.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// `appPorts: nil` is `--app-ports off`; `dashboardHostNames` are the names no app may have.
    public func makeService(git: FakeGit = FakeGit(), appPorts: ClosedRange<Int>? = 0...0,
                            dashboardHostNames: Set<String> = [], drainSeconds: Double = 0) throws -> AppService {
        // Port 0 lets the kernel choose, so parallel test runs never collide.
        var settings = PipelineSettings(dataDir: dir, bindHost: "127.0.0.1", appPorts: appPorts, allowLocalRepos: true, maxBuilds: 1,
                                        keepImages: 2, buildTimeoutSeconds: 10, healthTimeoutSeconds: 2, drainSeconds: drainSeconds,
                                        extraLabels: [], instanceID: "test")
        settings.dashboardHostNames = dashboardHostNames
        service = try AppService(store: store, runtime: runtime, git: git, settings: settings)
        return service
    }

    public struct NotFinished: Error, CustomStringConvertible {
        public let deploymentID: Int
        public var description: String { "deployment \(deploymentID) did not finish within 10 s" }
    }

    /// The deployment once it has finished; throws (failing the calling test) if it does not within 10 s.
    public func waitFinished(_ id: Int) throws -> Deployment {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let d = try store.deployment(id: id), d.status.isFinished { return d }
            usleep(20_000)
        }
        throw NotFinished(deploymentID: id)
    }

    /// The body of a GET / on the port, or nil when nothing answers.
    public func get(_ port: Int) -> String? {
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
}
