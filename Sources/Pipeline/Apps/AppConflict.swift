/// An operation that cannot be done to an app in its present state. Each case is its own
/// conflict, so callers and tests can tell them apart; the API answers all of them 409.
public enum AppConflict: Error, CustomStringConvertible, Sendable, Equatable {
    /// A rollback without a target, and no earlier deployment succeeded.
    case nothingToRollBackTo(app: String)
    /// Stop, start, restart or logs of an app that has no live deployment.
    case notDeployed(app: String)
    /// The live deployment's image is gone, so its container cannot be made again.
    case liveImageMissing(app: String)
    /// A cancel for a deployment that has already ended.
    case alreadyFinished(deploymentID: Int, status: DeploymentStatus)
    /// A volume an app lists cannot be deleted on its own: take it off the app's list first.
    case volumeInUse(volume: String)

    public var description: String {
        switch self {
        case .nothingToRollBackTo(let app): return "\(app) has no earlier successful deployment to roll back to"
        case .notDeployed(let app): return "\(app) has no live deployment"
        case .liveImageMissing(let app): return "the live deployment of \(app) has no image"
        case .alreadyFinished(let id, let status): return "deployment \(id) has already finished (\(status.rawValue))"
        case .volumeInUse(let volume): return "the volume \(volume) is one of an app's volumes; take it off the app's list first"
        }
    }
}
