/// What a notification target can be told about.
public enum NotificationEvent: String, Sendable, CaseIterable {
    case deploymentSucceeded = "deployment.succeeded"
    case deploymentFailed = "deployment.failed"
    case deploymentCancelled = "deployment.cancelled"
    case deploymentSkipped = "deployment.skipped"
    case rollbackSucceeded = "rollback.succeeded"
    case appCrashed = "app.crashed"
    case appRecovered = "app.recovered"
    case certificateFailed = "certificate.failed"
    case certificateExpiring = "certificate.expiring"
    /// The "send test" button's: sent to the one target asked, whatever its events.
    case test = "test"

    /// The events a target may choose (every one but `test`).
    public static var choosable: [NotificationEvent] { allCases.filter { $0 != .test } }
}
