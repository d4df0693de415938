import Pipeline
import SlipwayHTTP

/// The app page: status, settings, env, webhook, credentials, runtime logs and history.
enum AppPage {
    static func render(_ web: WebContext, session: Session, app: App, error: ValidationError? = nil, form: [String: String] = [:]) throws -> HTTPResponse {
        let history = try web.store.deployments(appID: app.id, limit: 100)
        let live = history.first { $0.id == app.liveDeploymentID }
        let keptImages = Set(history.filter { $0.status == .succeeded }.prefix(web.service.settings.keepImages).compactMap(\.image))
        let rows: [TemplateValue] = history.map { d in
            let canRollback = d.status == .succeeded && d.id != app.liveDeploymentID && d.image.map(keptImages.contains) == true
            return PageModel.deployment(d, liveID: app.liveDeploymentID, canRollback: canRollback)
        }
        let env = try web.store.env(appID: app.id)
        let deliveries: [TemplateValue] = try web.store.deliveries(appID: app.id, limit: 10).map {
            .object(["time": .string($0.createdAt), "event": .string($0.event ?? ""), "delivery_id": .string($0.deliveryID ?? ""),
                     "result": .string($0.result.text), "deployment_id": .string($0.deploymentID.map(String.init) ?? "")])
        }
        var context: [String: TemplateValue] = [
            "app": PageModel.app(app, config: web.config, live: live, busy: web.service.queue.isBusy(appID: app.id)),
            "deployments": .list(rows),
            "has_deployments": .bool(!rows.isEmpty),
            "env_text": .string(env.map { "\($0.name)=\(DeployForm.mask)" }.joined(separator: "\n")),
            "env_names": .list(env.map { .string($0.name) }),
            "webhook_url": .string("\(web.config.effectivePublicURL)/hooks/github/\(app.name)"),
            "deliveries": .list(deliveries),
            "has_deliveries": .bool(!deliveries.isEmpty),
        ]
        if let secret = web.sessions.takeShownOnce(session.id, key: app.name) { context["new_secret"] = .string(secret) }
        if let error {
            context["errors"] = .object([error.field: .string(error.message)])
            context["has_errors"] = true
        }
        return try web.page("app", context, session: session, title: app.name, status: error == nil ? 200 : 400)
    }
}
