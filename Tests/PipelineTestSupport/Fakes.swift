import Foundation
import SlipwaySystem
import Synchronization
import Pipeline

/// A container engine in memory: containers "run" a tiny HTTP server of our own so health
/// checks and the forwarder have something real to talk to.
public final class FakeRuntime: ContainerRuntime {
    public struct State {
        public var calls: [String] = []
        public var images: Set<String> = []
        public var volumes: [VolumeInfo] = []
        public var containers: [String: (image: String, running: Bool, server: Int32?, labels: [String: String])] = [:]
        /// Runs once, on the next `remove(container:)`, after the container is gone.
        public var afterNextRemove: (@Sendable () -> Void)?
        public var failBuild = false
        public var exitAtOnce = false
    }
    public let state = Mutex(State())
    /// When set, every build waits for it to be signalled (a slow server).
    public let buildGate = Mutex<DispatchSemaphore?>(nil)

    public init() {}

    public var calls: [String] { state.withLock { $0.calls } }

    public func build(tag: String, labels: [(String, String)], contextTar: String, timeoutSeconds: Double, log: DeploymentLog, cancellation: Cancellation?) throws {
        buildGate.withLock { $0 }?.wait()
        try state.withLock { s in
            s.calls.append("build \(tag)")
            if s.failBuild { throw ContainerError(operation: "build", message: "RUN false returned 1") }
            s.images.insert(tag)
        }
    }

    public func run(_ spec: ContainerSpec, env: [(String, String)], log: DeploymentLog) throws -> String {
        if state.withLock({ $0.containers[spec.name] != nil }) {
            throw ContainerError(operation: "run", message: "Conflict. The container name \"/\(spec.name)\" is already in use by container \"abc\".")
        }
        let fd = try Socket.listen(host: "127.0.0.1", port: 0)
        state.withLock { s in
            for mount in spec.mounts where !s.volumes.contains(where: { $0.name == mount.source }) {
                s.volumes.append(VolumeInfo(name: mount.source, app: mount.labels.first { $0.0 == Naming.appLabel }?.1 ?? ""))
            }
            s.calls.append("run \(spec.name)" + spec.mounts.map { " -v \($0.source):\($0.target)" }.joined())
            s.containers[spec.name] = (spec.image, !s.exitAtOnce, s.exitAtOnce ? nil : fd, Dictionary(spec.labels, uniquingKeysWith: { $1 }))
        }
        if state.withLock({ $0.exitAtOnce }) {
            close(fd)
        } else {
            let body = spec.image
            Thread.detachNewThread {
                while true {
                    let c = accept(fd, nil, nil)
                    // The listener was shut down (`remove`): closed here, by the one thread that
                    // uses it, so its number cannot be another container's before this loop ends.
                    if c < 0 {
                        close(fd)
                        return
                    }
                    var buf = [UInt8](repeating: 0, count: 4096)
                    _ = recv(c, &buf, buf.count, 0)
                    let reply = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
                    _ = send(c, reply, reply.count, Int32(MSG_NOSIGNAL))
                    close(c)
                }
            }
        }
        return spec.name
    }

    public func endpoints(container: String, internalPort: Int) throws -> ContainerEndpoints {
        guard let fd = state.withLock({ $0.containers[container]?.server }) else { return ContainerEndpoints(hostPort: 1, bridge: nil) }
        return ContainerEndpoints(hostPort: Socket.localPort(fd), bridge: nil)
    }

    public func state(container: String) throws -> ContainerState? {
        state.withLock { s in s.containers[container].map { ContainerState(status: $0.running ? .running : .exited, exitCode: $0.running ? 0 : 1) } }
    }

    public func bridgeAddress(container: String) -> String? { nil }
    public func start(container: String) throws { state.withLock { $0.calls.append("start \(container)") } }
    public func stop(container: String, graceSeconds: Int) throws { state.withLock { $0.calls.append("stop \(container)") } }

    public func remove(container: String) throws {
        let (fd, hook) = state.withLock { s -> (Int32?, (@Sendable () -> Void)?) in
            s.calls.append("rm \(container)")
            defer { s.afterNextRemove = nil }
            return (s.containers.removeValue(forKey: container)?.server, s.afterNextRemove)
        }
        if let fd { shutdown(fd, Int32(SHUT_RDWR)) }
        hook?()
    }

    public func removeImage(_ image: String) throws -> ImageRemoval {
        state.withLock { s in
            s.calls.append("rmi \(image)")
            return s.images.remove(image) == nil ? .absent : .removed
        }
    }
    public func imageExists(_ image: String) -> Bool { state.withLock { $0.images.contains(image) } }
    public func logs(container: String, tail: Int) throws -> String { "fake log line" }
    public func containers(labels: [String]) throws -> [ContainerInfo] {
        let wanted = labels.map { label -> (String, String) in
            let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }
        return state.withLock { s in
            s.containers.filter { _, c in wanted.allSatisfy { c.labels[$0.0] == $0.1 } }.map { name, c in
                ContainerInfo(id: name, name: name, running: c.running, labels: c.labels,
                              hostPort: c.server.map { Socket.localPort($0) })
            }.sorted { $0.name < $1.name }
        }
    }
    /// Every image it built: the fake serves one instance, whose images all carry its labels.
    public func images(labels: [String]) throws -> [ImageInfo] {
        state.withLock { $0.images.sorted().map { ImageInfo(id: $0, reference: $0) } }
    }
    public func isAvailable() -> Bool { true }
    public func volumes(labels: [String]) throws -> [VolumeInfo] { state.withLock { $0.volumes } }
    public func volumeSizes() throws -> [String: String] { [:] }
    public func removeVolume(_ name: String) throws {
        state.withLock { s in
            s.calls.append("volume rm \(name)")
            s.volumes.removeAll { $0.name == name }
        }
    }
}

public struct FakeGit: GitSource {
    public var missingDockerfile = false
    /// What the branch points at; the resolved commit's sha when nil.
    public var tip: String?

    public init(missingDockerfile: Bool = false, tip: String? = nil) {
        self.missingDockerfile = missingDockerfile
        self.tip = tip
    }

    public static let headSHA = String(repeating: "a", count: 40)

    public func branchTip(app: App) throws -> String? { tip ?? Self.headSHA }

    public func fetchAndResolve(app: App, revision: String?, log: DeploymentLog, cancellation: Cancellation?) throws -> ResolvedCommit {
        ResolvedCommit(sha: revision.flatMap { $0.count == 40 ? $0 : nil } ?? Self.headSHA, subject: "a commit", author: "T <t@example.com>")
    }

    public func exportTree(app: App, sha: String, to path: String, log: DeploymentLog) throws {
        if missingDockerfile { throw GitError(message: "no Dockerfile at the repository root") }
    }

    public func remove(appName: String) {}
    public func generateDeployKey(appName: String) throws -> String { "ssh-ed25519 AAAA fake" }
    public func removeDeployKey(appName: String) {}
}
