import Pipeline
import SlipwaySystem

/// The API's JSON shape of an app. Env var values and the webhook secret are never included.
enum AppJSON {
    static func encode(_ app: App, api: APIContext, env: [String], includeSecret: Bool = false) -> JSON {
        let address = api.config.address(of: app)
        var pairs: [(String, JSON)] = [
            ("name", .string(app.name)),
            ("repo_url", .string(app.repoURL)),
            ("branch", .string(app.branch)),
            ("server", .string(app.server)),
            ("port", .from(address.port)),
            ("url", .from(address.url)),
            ("domains", .array(app.domains.map { .string($0.value) })),
            ("volumes", .array(app.volumes.map { .object([("name", .string($0.name)), ("path", .string($0.path))]) })),
            ("status", .string(app.status.rawValue)),
            ("internal_port", .from(app.internalPort)),
            ("health_path", .string(app.healthPath)),
            ("memory_mb", .from(app.memoryMB)),
            ("cpus", .from(app.cpus)),
            // The app's own; null when it takes the server's --max-request-body.
            ("max_request_body", .from(app.maxRequestBody)),
            ("https_redirect", .bool(app.httpsRedirect)),
            ("hsts", .bool(app.hsts)),
            ("init", .bool(app.initProcess)),
            ("stop_timeout", app.stopTimeout.map { .from($0) } ?? .null),
            ("env_keys", .array(env.map { .string($0) })),
            ("live_deployment_id", .from(app.liveDeploymentID)),
            ("webhook_url", .string("\(api.config.effectivePublicURL)/hooks/github/\(app.name)")),
            ("created_at", .string(app.createdAt)),
            // Whether credentials are set, never what they are.
            ("has_git_token", .bool(app.gitToken != nil)),
            ("has_github_token", .bool(app.githubToken != nil)),
            ("deploy_key", .from(app.deployKeyPublic)),
            ("traffic", TrafficJSON.encode(api.accessLogs.counters(appID: app.id))),
            ("certificates", .array(api.certificates.summaries(for: app.domains.map(\.value)).map(CertificateJSON.encode))),
            // Where its notifications go (never a secret); `GET .../notifications` has the attempts.
            ("notifications", .array(((try? api.store.notificationTargets(appID: app.id)) ?? []).map { .object(NotificationsAPI.summary($0)) })),
        ]
        if includeSecret { pairs.append(("webhook_secret", .string(app.webhookSecret))) }
        return .object(pairs)
    }
}
