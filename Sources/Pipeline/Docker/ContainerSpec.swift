/// What a new container is made from.
public struct ContainerSpec: Sendable, Equatable {
    public var name: String
    public var image: String
    public var labels: [(String, String)]
    public var envNames: [String]
    public var internalPort: Int
    public var memoryMB: Int?
    public var cpus: Double?
    public var pidsLimit = 512
    /// Named volumes to mount; `run` makes any that does not exist yet, with its labels.
    public var mounts: [VolumeMount] = []
    /// An init process as PID 1 (`--init`).
    public var initProcess = true
    /// Seconds between SIGTERM and SIGKILL when Docker itself stops the container (an engine
    /// shutdown); Slipway's own stops pass theirs.
    public var stopTimeout: Int?
    /// The address the internal port is published on: loopback here, the server's private
    /// address on another server (where Slipway's edge and health checks reach it).
    public var publishHost = "127.0.0.1"

    public init(name: String, image: String, labels: [(String, String)], envNames: [String], internalPort: Int,
                memoryMB: Int? = nil, cpus: Double? = nil) {
        self.name = name
        self.image = image
        self.labels = labels
        self.envNames = envNames
        self.internalPort = internalPort
        self.memoryMB = memoryMB
        self.cpus = cpus
    }

    public static func == (a: ContainerSpec, b: ContainerSpec) -> Bool {
        a.name == b.name && a.image == b.image && a.envNames == b.envNames && a.internalPort == b.internalPort
            && a.labels.map(\.0) == b.labels.map(\.0) && a.labels.map(\.1) == b.labels.map(\.1) && a.mounts == b.mounts
            && a.initProcess == b.initProcess && a.stopTimeout == b.stopTimeout
    }
}

/// A Docker named volume mounted in a container.
public struct VolumeMount: Sendable, Equatable {
    public var source: String
    public var target: String
    public var labels: [(String, String)]

    public init(source: String, target: String, labels: [(String, String)]) {
        self.source = source
        self.target = target
        self.labels = labels
    }

    public static func == (a: VolumeMount, b: VolumeMount) -> Bool {
        a.source == b.source && a.target == b.target && a.labels.map(\.0) == b.labels.map(\.0) && a.labels.map(\.1) == b.labels.map(\.1)
    }
}

/// A volume Slipway made, as `docker volume ls` reports it.
public struct VolumeInfo: Sendable, Equatable {
    public var name: String
    /// The app it was made for (its `slipway.app` label).
    public var app: String

    public init(name: String, app: String) {
        self.name = name
        self.app = app
    }
}

/// A container as `docker ps` reports it.
public struct ContainerInfo: Sendable, Equatable {
    public var id: String
    public var name: String
    public var running: Bool
    public var labels: [String: String]
    /// The loopback port published for the container, when it is running.
    public var hostPort: Int?

    public init(id: String, name: String, running: Bool, labels: [String: String], hostPort: Int?) {
        self.id = id
        self.name = name
        self.running = running
        self.labels = labels
        self.hostPort = hostPort
    }
}
