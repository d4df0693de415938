/// Why an app has no container to serve it: its port answers 503, and so does the HTTP edge,
/// each saying this.
public enum Unavailability: Sendable, Equatable {
    /// No deployment of the app has succeeded yet.
    case notDeployed
    /// Stopped on purpose, from the dashboard or the API.
    case stopped
    /// Slipway has just started and is bringing the app's container back.
    case starting
    /// Restarted from the dashboard or the API: its one container is stopped and started again.
    case restarting

    /// One line naming the app, for the forwarder's plain-text answer.
    public func message(app: String) -> String {
        switch self {
        case .notDeployed: return "\(app) has not been deployed yet"
        case .stopped: return "\(app) is stopped"
        case .starting: return "\(app) is starting"
        case .restarting: return "\(app) is restarting"
        }
    }
}
