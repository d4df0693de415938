/// Which engine a docker command talks to: this machine's (no arguments), or another server's
/// through Docker's SSH transport (`-H ssh://...`, with the environment Slipway's ssh wrapper reads).
public struct DockerEndpoint: Sendable, Equatable {
    /// Put before every command's own arguments.
    public let arguments: [String]
    public let environment: [String: String]

    public init(arguments: [String], environment: [String: String]) {
        self.arguments = arguments
        self.environment = environment
    }

    public static let local = DockerEndpoint(arguments: [], environment: [:])
}
