/// The container engine, as the deployer needs it. DockerCLI is the real one; tests may fake it.
public protocol ContainerRuntime: Sendable {
    func build(tag: String, labels: [(String, String)], contextTar: String, timeoutSeconds: Double,
               log: DeploymentLog, cancellation: Cancellation?) throws
    /// Creates and starts a container; `env` values reach it without ever being on a command line
    /// or in the environment of any process but the container's.
    func run(_ spec: ContainerSpec, env: [(String, String)], log: DeploymentLog) throws -> String
    /// The loopback port docker published the container's internal port on, and the container's
    /// IPv4 address on Docker's bridge if it has one: a deployment needs them together.
    func endpoints(container: String, internalPort: Int) throws -> ContainerEndpoints
    /// The bridge address alone, for a container whose published port is already known.
    func bridgeAddress(container: String) -> String?
    /// What the container is doing and its exit code; nil when the container does not exist.
    func state(container: String) throws -> ContainerState?
    func start(container: String) throws
    func stop(container: String, graceSeconds: Int) throws
    func remove(container: String) throws
    @discardableResult
    func removeImage(_ image: String) throws -> ImageRemoval
    func imageExists(_ image: String) -> Bool
    func logs(container: String, tail: Int) throws -> String
    /// Containers carrying every one of `labels` ("key=value").
    func containers(labels: [String]) throws -> [ContainerInfo]
    /// Images carrying every one of `labels`, with or without a name left.
    func images(labels: [String]) throws -> [ImageInfo]
    func isAvailable() -> Bool

    // Volumes. `run` makes a spec's volumes that do not exist yet.

    /// Volumes carrying every one of `labels` ("key=value").
    func volumes(labels: [String]) throws -> [VolumeInfo]
    /// Each volume's size as Docker shows it ("12.5MB"), by name.
    func volumeSizes() throws -> [String: String]
    func removeVolume(_ name: String) throws
}

/// Where a running container can be reached: its published loopback port, and its bridge address.
public struct ContainerEndpoints: Sendable, Equatable {
    public var hostPort: Int
    public var bridge: String?

    public init(hostPort: Int, bridge: String?) {
        self.hostPort = hostPort
        self.bridge = bridge
    }
}

public struct ContainerError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let message: String
    public var description: String { message.isEmpty ? "docker \(operation) failed" : "docker \(operation) failed: \(message)" }

    public init(operation: String, message: String) {
        self.operation = operation
        self.message = message
    }
}
