import Edge

/// Picks the first port of the app range that no app holds and that can be bound now.
public enum PortAllocator {
    public struct Exhausted: Error, CustomStringConvertible, Sendable {
        public let range: ClosedRange<Int>
        public var description: String { "no free port in the app port range \(range.lowerBound)-\(range.upperBound)" }
    }

    /// Returns the forwarder already listening on the port, so no one can take it in between.
    public static func allocate(range: ClosedRange<Int>, used: Set<Int>, host: String, upstream: LiveUpstream,
                                maxConnections: Int = PortForwarder.defaultMaximumConnections) throws -> PortForwarder {
        for port in range where !used.contains(port) {
            if let forwarder = try? PortForwarder(host: host, port: port, upstream: upstream, maxConnections: maxConnections) { return forwarder }
        }
        throw Exhausted(range: range)
    }
}
