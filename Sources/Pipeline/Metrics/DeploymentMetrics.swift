import SlipwaySystem
import Synchronization

/// What `/metrics` says of deployments since Slipway started: how many ended, by app and status,
/// and how long they and their steps took. Counted as they end (`Deployer`); Prometheus reads
/// the counters' resets at a restart as such.
///
/// An app's series go when it is deleted, so the labels stay as many as the apps.
public final class DeploymentMetrics: Sendable {
    /// Seconds: a deployment of a cached image takes under a second, a cold build minutes.
    public static let bounds: [Double] = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800]

    public struct Snapshot: Sendable {
        public var finished: [String: [String: Int]]
        public var durations: [String: Histogram]
        public var steps: [String: Histogram]
    }

    private let state = Mutex(Snapshot(finished: [:], durations: [:], steps: [:]))

    public init() {}

    func record(app: String, _ d: Deployment) {
        state.withLock { s in
            s.finished[app, default: [:]][d.status.rawValue, default: 0] += 1
            if let ms = d.durationMilliseconds {
                s.durations[d.status.rawValue, default: Histogram(bounds: Self.bounds)].observe(Double(ms) / 1000)
            }
            for step in d.steps {
                s.steps[step.name, default: Histogram(bounds: Self.bounds)].observe(Double(step.milliseconds) / 1000)
            }
        }
    }

    public func forget(app: String) {
        state.withLock { _ = $0.finished.removeValue(forKey: app) }
    }

    public func snapshot() -> Snapshot { state.withLock { $0 } }
}
