/// A machine whose Docker engine Slipway drives over SSH. The local engine is the built-in
/// server `local`, which is not stored.
public struct Server: Sendable, Equatable {
    public static let localName = "local"

    public var id: Int
    public var name: String
    public var destination: SSHDestination
    /// The private address Slipway reaches the apps' published ports at.
    public var address: String
    public var state: ServerState
    /// What the last connection attempt failed with; nil after a success.
    public var lastError: String?
    /// The pinned host key's fingerprint (SHA256:...), once the first connection succeeded.
    public var hostKeyFingerprint: String?
    public var engine: EngineFacts?
    public var checkedAt: String?
    public var createdAt: String

    public init(id: Int, name: String, destination: SSHDestination, address: String, state: ServerState, lastError: String? = nil,
                hostKeyFingerprint: String? = nil, engine: EngineFacts? = nil, checkedAt: String? = nil, createdAt: String) {
        self.id = id
        self.name = name
        self.destination = destination
        self.address = address
        self.state = state
        self.lastError = lastError
        self.hostKeyFingerprint = hostKeyFingerprint
        self.engine = engine
        self.checkedAt = checkedAt
        self.createdAt = createdAt
    }
}

/// What a connection found out about a server's engine.
public struct EngineFacts: Sendable, Equatable {
    public var serverVersion: String
    public var apiVersion: String
    public var os: String
    public var architecture: String
    /// The `docker version` round trip over SSH, connection included.
    public var latencyMilliseconds: Int
    /// Free space where the engine keeps its images and containers; nil when it could not be read.
    public var freeDiskBytes: Int?

    public init(serverVersion: String, apiVersion: String, os: String, architecture: String, latencyMilliseconds: Int, freeDiskBytes: Int?) {
        self.serverVersion = serverVersion
        self.apiVersion = apiVersion
        self.os = os
        self.architecture = architecture
        self.latencyMilliseconds = latencyMilliseconds
        self.freeDiskBytes = freeDiskBytes
    }
}
