import Synchronization

/// One server's engine as a deployment uses it: the runtime, and how its containers are reached.
public struct Engine: Sendable {
    public let server: String
    public let runtime: any ContainerRuntime
    /// Where containers publish their port and Slipway dials it: loopback here, the server's
    /// private address elsewhere.
    public let publishHost: String
    /// Whether a container's address on Docker's bridge is reachable from Slipway (only here).
    public let reachesBridge: Bool

    public init(server: String, runtime: any ContainerRuntime, publishHost: String, reachesBridge: Bool) {
        self.server = server
        self.runtime = runtime
        self.publishHost = publishHost
        self.reachesBridge = reachesBridge
    }
}

/// The engine of each server: `local` is this machine's; another one is reached over SSH once
/// it has been connected (its host key pinned).
public final class Engines: Sendable {
    public typealias RemoteRuntime = @Sendable (DockerEndpoint) -> any ContainerRuntime

    public let local: Engine
    private let directory: ServerDirectory?
    private let remote: RemoteRuntime?
    /// By server name, with what it was made from: a server removed and added again with another
    /// address gets a new one.
    private let made = Mutex<[String: (key: String, engine: Engine)]>([:])

    public init(local: any ContainerRuntime, directory: ServerDirectory? = nil, remote: RemoteRuntime? = nil) {
        self.local = Engine(server: Server.localName, runtime: local, publishHost: "127.0.0.1", reachesBridge: true)
        self.directory = directory
        self.remote = remote
    }

    public func engine(for server: String) throws -> Engine {
        if server == Server.localName { return local }
        guard let directory, let remote else { throw ServerError.notFound(server) }
        let stored = try directory.server(named: server)
        guard stored.hostKeyFingerprint != nil, stored.state != .hostKeyChanged else {
            throw ServerError.notConnected(server: server, state: stored.state)
        }
        let key = "\(stored.id) \(stored.destination) \(stored.address)"
        return made.withLock { made in
            if let existing = made[server], existing.key == key { return existing.engine }
            let endpoint = DockerEndpoint(arguments: SSHCommands.docker(stored.destination, []),
                                          environment: directory.sshEnvironment(stored, pinning: .required))
            let engine = Engine(server: server, runtime: remote(endpoint), publishHost: stored.address, reachesBridge: false)
            made[server] = (key, engine)
            return engine
        }
    }
}
