import FoundationEssentials
import Glibc
import SlipwaySystem
import Synchronization

/// The servers Slipway deploys to besides its own machine: adding one (with a key pair made for
/// it, or the private key given), connecting (which pins its host key and checks its engine),
/// and removing one that has no apps. Every command goes through Docker's SSH transport with
/// Slipway's own ssh options (`SSHCommands`).
public final class ServerDirectory: Sendable {
    public struct Settings: Sendable {
        /// DATA_DIR/servers: each server's files, and `bin/ssh`.
        public var root: String
        public var dockerExecutable: String
        /// This binary, which runs as `ssh` under that name (`SSHWrapper`); nil when unknown,
        /// and then no server can be reached.
        public var wrapperBinary: String?
        public var instanceID: String
        public var timeoutSeconds: Double = 30

        public init(root: String, dockerExecutable: String, wrapperBinary: String?, instanceID: String) {
            self.root = root
            self.dockerExecutable = dockerExecutable
            self.wrapperBinary = wrapperBinary
            self.instanceID = instanceID
        }
    }

    public let settings: Settings
    private let store: Store
    private let runner: any ProcessRunner
    /// The real ssh, found once in the base PATH.
    private let sshProgram: String?
    private let connecting = Mutex<Set<String>>([])

    public init(store: Store, runner: any ProcessRunner, settings: Settings) throws {
        self.store = store
        self.runner = runner
        self.settings = settings
        sshProgram = SpawnedProcessRunner.basePath.split(separator: ":").map { "\($0)/ssh" }.first { access($0, X_OK) == 0 }
        // Only once there are servers: a data directory without any has nothing of theirs.
        if try !store.servers().isEmpty { try prepareWrapper() }
    }

    /// DATA_DIR/servers/bin/ssh, a link to this binary by the path it was started from (an
    /// upgrade's new binary there is used from then on); the directories are Slipway's alone.
    private func prepareWrapper() throws {
        let bin = settings.root + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        chmod(settings.root, 0o700)
        chmod(bin, 0o700)
        guard let binary = settings.wrapperBinary else { return }
        let link = bin + "/ssh"
        if ExecutablePath.target(of: link) == binary { return }
        unlink(link)
        if symlink(binary, link) != 0 { Log.warning("servers: cannot link \(link) to \(binary): \(String(cString: strerror(errno)))") }
    }

    public func files(_ name: String) -> ServerFiles { ServerFiles(root: settings.root, name: name) }

    public func servers() throws -> [Server] { try store.servers() }

    public func server(named name: String) throws -> Server {
        if name == Server.localName { throw ServerError.builtIn(name) }
        guard let server = try store.server(named: name) else { throw ServerError.notFound(name) }
        return server
    }

    /// Saves a server as pending and returns it with the public key to authorize there: of a
    /// pair made now, or of `privateKey`.
    public func add(name: String, ssh: String, address: String, privateKey: String?) throws -> (server: Server, publicKey: String) {
        try AppValidation.name(name)
        if name == Server.localName { throw ServerError.builtIn(name) }
        let destination = try SSHDestination.parse(ssh)
        guard SSHDestination.isIPv4(address), !address.hasPrefix("127.") else {
            throw ValidationError("address", "address must be the server's private IPv4 address, which this machine reaches (no port, not loopback), got '\(address.prefix(100))'")
        }
        if let privateKey, !privateKey.hasPrefix("-----BEGIN OPENSSH PRIVATE KEY-----") && !privateKey.hasPrefix("-----BEGIN") {
            throw ValidationError("private_key", "private_key must be a PEM or OpenSSH private key (-----BEGIN ...)")
        }
        if try store.server(named: name) != nil { throw ServerError.nameTaken(name) }
        try prepareWrapper()
        let files = files(name)
        files.remove()
        try files.create()
        let publicKey: String
        do {
            if let privateKey {
                try files.writeIdentity(privateKey)
                let result = try runner.run(ProcessSpec("ssh-keygen", SSHCommands.publicKey(of: files.identity)), timeoutSeconds: 30)
                guard result.termination.isSuccess, result.output.hasPrefix("ssh-") || result.output.hasPrefix("ecdsa-") else {
                    throw ValidationError("private_key", "private_key is not a private key ssh can use without a passphrase")
                }
                publicKey = result.output.trimmingWhitespaceAndNewlines()
                try PosixFile.replacePrivate(files.publicKey, with: Array((publicKey + "\n").utf8))
            } else {
                let result = try runner.run(ProcessSpec("ssh-keygen", SSHCommands.generateKey(path: files.identity,
                                                                                            comment: "slipway-\(settings.instanceID)-\(name)")),
                                            timeoutSeconds: 30)
                guard result.termination.isSuccess, let key = FileManager.default.contents(atPath: files.publicKey) else {
                    throw ServerSetupError(message: "ssh-keygen failed (\(result.termination)): \(result.output.prefix(200))")
                }
                publicKey = String(decoding: key, as: UTF8.self).trimmingWhitespaceAndNewlines()
            }
        } catch {
            files.remove()
            throw error
        }
        let server = try store.createServer(name: name, destination: destination, address: address)
        Log.info("server \(name) (\(destination)) added; its public key is to be authorized there")
        return (server, publicKey)
    }

    /// The public key of the server's pair.
    public func publicKey(of server: Server) -> String? {
        FileManager.default.contents(atPath: files(server.name).publicKey).map { String(decoding: $0, as: UTF8.self).trimmingWhitespaceAndNewlines() }
    }

    public func remove(name: String) throws {
        let server = try self.server(named: name)
        let apps = try store.appNames(onServer: name)
        guard apps.isEmpty else { throw ServerError.hasApps(server: name, apps: apps) }
        try store.deleteServer(id: server.id)
        files(name).remove()
        Log.info("server \(name) removed")
    }

    /// Connects: pins the host key on the first success (a different one later is refused),
    /// asks the engine for its versions, and reads the free disk where it keeps its data.
    /// Returns the server as saved: `ready`, or with what failed.
    public func connect(name: String) throws -> Server {
        var server = try self.server(named: name)
        let first = connecting.withLock { $0.insert(name).inserted }
        guard first else { throw ServerError.busy(name) }
        defer { _ = connecting.withLock { $0.remove(name) } }
        let files = files(name)
        // Pinned by the first success only: a key seen by an attempt that then failed (the user's
        // key not yet authorized) is not trusted, and is looked at again next time.
        let pinned = server.hostKeyFingerprint != nil && files.hasPinnedHostKey
        if !pinned { unlink(files.knownHosts) }
        let started = monotonicMilliseconds()
        let result = try runner.run(dockerSpec(server, SSHCommands.version, pinning: pinned ? .required : .acceptNew), timeoutSeconds: settings.timeoutSeconds)
        let latency = monotonicMilliseconds() - started
        server.checkedAt = Timestamp.now()
        guard result.termination.isSuccess, let versions = EngineProbe.versions(result.output) else {
            let failure = result.timedOut
                ? ("no answer from \(server.destination) within \(Int(settings.timeoutSeconds)) s", false)
                : EngineProbe.failure(result.output, destination: server.destination, pinned: pinned)
            server.state = failure.1 ? .hostKeyChanged : (server.state == .hostKeyChanged ? .hostKeyChanged : .unreachable)
            server.lastError = failure.0
            if !pinned { unlink(files.knownHosts) }
            try store.saveCheck(of: server)
            Log.warning("server \(name): \(failure.0)")
            return server
        }
        if !pinned {
            server.hostKeyFingerprint = fingerprint(files) ?? "pinned (fingerprint unreadable)"
            Log.info("server \(name): pinned host key \(server.hostKeyFingerprint ?? "?")")
        }
        server.engine = EngineFacts(serverVersion: versions.server, apiVersion: versions.api, os: versions.os, architecture: versions.architecture,
                                    latencyMilliseconds: latency, freeDiskBytes: freeDisk(server))
        server.state = .ready
        server.lastError = nil
        try store.saveCheck(of: server)
        Log.info("server \(name): Docker \(versions.server) ready (\(latency) ms)")
        return server
    }

    /// `docker -H ssh://...` with `arguments`, through the wrapper.
    public func dockerSpec(_ server: Server, _ arguments: [String], pinning: SSHCommands.Pinning = .required) -> ProcessSpec {
        ProcessSpec(settings.dockerExecutable, SSHCommands.docker(server.destination, arguments), environment: sshEnvironment(server, pinning: pinning))
    }

    /// What the wrapper needs: Slipway's own paths, nothing a user typed.
    func sshEnvironment(_ server: Server, pinning: SSHCommands.Pinning) -> [String: String] {
        let files = files(server.name)
        return ["PATH": settings.root + "/bin:" + SpawnedProcessRunner.basePath,
                SSHCommands.Environment.identity: files.identity,
                SSHCommands.Environment.knownHosts: files.knownHosts,
                SSHCommands.Environment.pin: pinning.rawValue,
                SSHCommands.Environment.program: sshProgram ?? "/usr/bin/ssh"]
    }

    private func fingerprint(_ files: ServerFiles) -> String? {
        guard let result = try? runner.run(ProcessSpec("ssh-keygen", SSHCommands.fingerprints(of: files.knownHosts)), timeoutSeconds: 10),
              result.termination.isSuccess else { return nil }
        return result.output.split(separator: " ").first { $0.hasPrefix("SHA256:") }.map(String.init)
    }

    /// Free bytes where the engine keeps its data, or nil when it cannot be read (not a failure).
    private func freeDisk(_ server: Server) -> Int? {
        guard let info = try? runner.run(dockerSpec(server, SSHCommands.rootDirectory), timeoutSeconds: settings.timeoutSeconds),
              info.termination.isSuccess else { return nil }
        let root = info.output.split(separator: "\n").last.map { String($0).trimmingWhitespaceAndNewlines() } ?? ""
        guard SSHCommands.isPlainPath(root), let ssh = sshProgram else { return nil }
        let files = files(server.name)
        let spec = ProcessSpec(ssh, SSHCommands.options(identity: files.identity, knownHosts: files.knownHosts, pinning: .required)
                                    + SSHCommands.freeDisk(server.destination, directory: root))
        guard let df = try? runner.run(spec, timeoutSeconds: settings.timeoutSeconds), df.termination.isSuccess else { return nil }
        return EngineProbe.freeBytes(df.output)
    }
}

/// A server's files could not be made.
public struct ServerSetupError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
