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
            && a.labels.map(\.0) == b.labels.map(\.0) && a.labels.map(\.1) == b.labels.map(\.1)
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
