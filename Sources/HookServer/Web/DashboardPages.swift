import FoundationEssentials
import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// The pages to read: the app list, the deploy form, an app, a deployment and their logs, and
/// the stylesheet and scripts they use.
struct DashboardPages: Sendable {
    let web: WebContext

    func staticFile(_ request: HTTPRequest) throws -> HTTPResponse {
        let file = request.parameter("file")
        guard let bytes = web.renderer.staticFiles[file] else { throw HTTPError.notFound("not found") }
        let type = file.hasSuffix(".css") ? "text/css; charset=utf-8" : file.hasSuffix(".js") ? "text/javascript; charset=utf-8"
            : file.hasSuffix(".svg") ? "image/svg+xml" : "application/octet-stream"
        return HTTPResponse(headers: [("Content-Type", type), ("Cache-Control", "public, max-age=3600")], body: .bytes(bytes))
    }

    func apps(_ request: HTTPRequest) throws -> HTTPResponse {
        let session = try web.requireSession(request)
        let apps = try web.store.apps()
        let models: [TemplateValue] = try apps.map { app in
            let live = try app.liveDeploymentID.flatMap { try web.store.deployment(id: $0) }
            return PageModel.app(app, config: web.config, live: live, busy: web.service.queue.isBusy(appID: app.id))
        }
        return try web.page("dashboard", ["apps": .list(models), "has_apps": .bool(!apps.isEmpty)], session: session, title: "Apps")
    }

    func deployForm(_ request: HTTPRequest) throws -> HTTPResponse {
        let session = try web.requireSession(request)
        return try web.page("deploy", ["form": ["branch": "main", "server": "local", "internal_port": "5000", "health_path": "/"],
                                       "default_max_request_body": .string(ByteSize.text(web.config.maxRequestBody))],
                            session: session, title: "Deploy an app")
    }

    func app(_ request: HTTPRequest) throws -> HTTPResponse {
        let session = try web.requireSession(request)
        return try AppPage.render(web, session: session, app: try web.app(request))
    }

    func runtimeLogs(_ request: HTTPRequest) throws -> HTTPResponse {
        _ = try web.requireSession(request)
        let app = try web.app(request)
        let text = (try? web.service.runtimeLogs(app, tail: 200)) ?? "(no runtime logs: the app has no running container)"
        return HTTPResponse(headers: [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")], body: .bytes(Array(text.utf8)))
    }

    func deployment(_ request: HTTPRequest) throws -> HTTPResponse {
        let session = try web.requireSession(request)
        guard let id = Int(request.parameter("id")), let d = try web.store.deployment(id: id), let app = try web.store.app(id: d.appID) else {
            throw HTTPError.notFound("no such deployment")
        }
        var context: [String: TemplateValue] = [
            "app": PageModel.app(app, config: web.config, live: nil, busy: false),
            "deployment": PageModel.deployment(d, liveID: app.liveDeploymentID),
        ]
        if d.status.isFinished {
            let log = FileManager.default.contents(atPath: web.service.settings.logPath(deploymentID: d.id)) ?? Data()
            // Colours shown, other escapes dropped (ANSIText escapes the rest as HTML).
            context["log"] = .safe(ANSIText.html(String(decoding: log, as: UTF8.self)))
        }
        if let secret = web.sessions.takeShownOnce(session.id, key: app.name) { context["new_secret"] = .string(secret) }
        context["webhook_url"] = .string("\(web.config.effectivePublicURL)/hooks/github/\(app.name)")
        return try web.page("deployment", context, session: session, title: "Deployment \(d.id) of \(app.name)")
    }

    /// The live build log, followed until the deployment ends.
    func deploymentLog(_ request: HTTPRequest) throws -> HTTPResponse {
        _ = try web.requireSession(request)
        guard let id = Int(request.parameter("id")), let d = try web.store.deployment(id: id) else { throw HTTPError.notFound("no such deployment") }
        let path = web.service.settings.logPath(deploymentID: d.id)
        let store = web.store
        return HTTPResponse(headers: [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")],
                            body: .stream { writer in try LogFollower.follow(path: path, deploymentID: d.id, store: store, writer: writer) })
    }
}
