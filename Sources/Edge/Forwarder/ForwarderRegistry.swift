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

    public func closeAll() {
        let all = forwarders.withLock { f -> [PortForwarder] in
            defer { f.removeAll() }
            return Array(f.values)
        }
        all.forEach { $0.close() }
    }
}
