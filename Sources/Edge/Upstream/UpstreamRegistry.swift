import Synchronization

/// Every app's `LiveUpstream`, by app id: where the deployer switches and drains, and where the
/// port forwarders and the HTTP edge find where to send traffic.
public final class UpstreamRegistry: Sendable {
    private let upstreams = Mutex<[Int: LiveUpstream]>([:])

    public init() {}

    public func upstream(for appID: Int) -> LiveUpstream? { upstreams.withLock { $0[appID] } }

    public func set(_ upstream: LiveUpstream, for appID: Int) {
        upstreams.withLock { $0[appID] = upstream }
    }

    public func remove(appID: Int) {
        upstreams.withLock { _ = $0.removeValue(forKey: appID) }
    }

    /// Closes every app's idle edge connections past their time (the supervisor's round).
    public func closeExpiredIdleConnections() {
        for live in upstreams.withLock({ Array($0.values) }) { live.closeExpiredIdleConnections() }
    }
}
