import Synchronization

/// The port forwarders of all apps, by app id.
public final class ForwarderRegistry: Sendable {
    private let forwarders = Mutex<[Int: PortForwarder]>([:])

    public init() {}

    public func forwarder(for appID: Int) -> PortForwarder? { forwarders.withLock { $0[appID] } }

    public func set(_ forwarder: PortForwarder, for appID: Int) {
        let old = forwarders.withLock { f -> PortForwarder? in
            defer { f[appID] = forwarder }
            return f[appID]
        }
        old?.close()
    }

    public func remove(appID: Int) {
        let old = forwarders.withLock { $0.removeValue(forKey: appID) }
        old?.close()
    }

    /// Every forwarder, for the upgrade hand-over.
    public var all: [PortForwarder] { forwarders.withLock { Array($0.values) } }

    /// Relayed connections open through every forwarder.
    public var openConnections: Int { all.reduce(0) { $0 + $1.openConnections } }

    public func closeAll() {
        let all = forwarders.withLock { f -> [PortForwarder] in
            defer { f.removeAll() }
            return Array(f.values)
        }
        all.forEach { $0.close() }
    }
}
