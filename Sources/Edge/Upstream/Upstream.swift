/// One container an app's traffic goes to, as the TCP forwarder and the HTTP edge both reach it.
public struct Upstream: Sendable, Equatable {
    /// Counts up with every switch of the app's upstream, so connections and requests are
    /// counted against the container they started on, and that one can be drained.
    public let generation: Int
    /// The address the container's port is published on: loopback, or another server's private
    /// address (numeric IPv4).
    public let host: String
    /// The container's published port: always reachable, and how the upstream is known.
    public let port: Int
    /// The container's own address on Docker's bridge, tried first: it skips docker-proxy, a
    /// second relay that would otherwise sit behind this one (see BENCHMARKS.md, forwarder).
    public let direct: (host: String, port: Int)?
    /// The deployment whose container this is, for the access log; nil when the caller does not
    /// know it (the tests' fake apps).
    public let deploymentID: Int?

    public init(generation: Int, host: String = "127.0.0.1", port: Int, direct: (host: String, port: Int)?, deploymentID: Int? = nil) {
        self.generation = generation
        self.host = host
        self.port = port
        self.direct = direct
        self.deploymentID = deploymentID
    }

    public static func == (a: Upstream, b: Upstream) -> Bool {
        a.generation == b.generation && a.isSameContainer(host: b.host, port: b.port, direct: b.direct, deploymentID: b.deploymentID)
    }

    /// Whether `other` reaches the same container by the same addresses. Another deployment is
    /// another container even on the same addresses: Docker may hand a freed port or bridge
    /// address to the next container.
    func isSameContainer(host: String, port: Int, direct: (host: String, port: Int)?, deploymentID: Int?) -> Bool {
        self.host == host && self.port == port && self.direct?.host == direct?.host && self.direct?.port == direct?.port
            && self.deploymentID == deploymentID
    }
}
