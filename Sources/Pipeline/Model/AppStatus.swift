/// What an app is doing, as shown on the dashboard and in the API.
public enum AppStatus: String, Sendable, CaseIterable {
    case new, deploying, running, stopped, crashed, failed
    /// Its server cannot be reached: its container may well be running (not `crashed`).
    case unknown
}
