import Pipeline
import SlipwaySystem

/// The API's JSON shape of a deployment.
enum DeploymentJSON {
    static func encode(_ d: Deployment, liveID: Int?) -> JSON {
        .object([
            ("id", .from(d.id)),
            ("app", .string(d.appName)),
            ("status", .string(d.status.rawValue)),
            ("trigger", .string(d.trigger.rawValue)),
            ("ref", .from(d.ref)),
            ("commit_sha", .from(d.commitSHA)),
            ("commit_message", .from(d.commitMessage)),
            ("commit_author", .from(d.commitAuthor)),
            ("image", .from(d.image)),
            ("server", .string(d.server)),
            ("source_deployment_id", .from(d.sourceDeploymentID)),
            ("delivery_id", .from(d.deliveryID)),
            ("error", .from(d.error)),
            ("live", .bool(liveID == d.id)),
            ("created_at", .string(d.createdAt)),
            ("started_at", .from(d.startedAt)),
            ("finished_at", .from(d.finishedAt)),
            ("duration_ms", .from(d.durationMilliseconds)),
            ("steps", .object(d.steps.map { ($0.name, .number(Double($0.milliseconds))) })),
        ])
    }
}
