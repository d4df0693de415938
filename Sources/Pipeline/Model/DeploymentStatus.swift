/// A deployment's life: queued → cloning → building → starting → checking → succeeded,
/// or one of the terminal failures.
public enum DeploymentStatus: String, Sendable, CaseIterable {
    case queued, cloning, building, starting, checking
    case succeeded, failed, cancelled, superseded, interrupted
    /// A pushed commit that was no longer its branch's tip when fetched: not deployed, so a
    /// replayed or late delivery never puts old code live (a rollback still can).
    case skipped

    public var isFinished: Bool {
        switch self {
        case .succeeded, .failed, .cancelled, .superseded, .interrupted, .skipped: return true
        default: return false
        }
    }

    /// The step that follows this one on the success path; nil once finished.
    public var next: DeploymentStatus? {
        switch self {
        case .queued: return .cloning
        case .cloning: return .building
        case .building: return .starting
        case .starting: return .checking
        case .checking: return .succeeded
        default: return nil
        }
    }

    /// Whether moving to `target` is a legal transition. Rollbacks skip cloning and building.
    public func canMove(to target: DeploymentStatus) -> Bool {
        if isFinished { return false }
        switch target {
        case .failed, .cancelled, .interrupted: return true
        case .superseded: return self == .queued
        case .skipped: return self == .queued || self == .cloning
        case .queued: return false
        default:
            guard let order = Self.progressOrder.firstIndex(of: self),
                  let targetOrder = Self.progressOrder.firstIndex(of: target) else { return false }
            return targetOrder > order
        }
    }

    private static let progressOrder: [DeploymentStatus] = [.queued, .cloning, .building, .starting, .checking, .succeeded]
}

public enum DeploymentTrigger: String, Sendable, CaseIterable {
    case manual, redeploy, rollback, webhook
}
