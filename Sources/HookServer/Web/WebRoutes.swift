import FoundationEssentials
import Pipeline
import SlipwayHTTP
import SlipwaySystem

extension Router {
    mutating func addWebRoutes(_ web: WebContext) {
        get("/static/{file}") { request in
            let file = request.parameter("file")
            guard let bytes = web.renderer.staticFiles[file] else { throw HTTPError.notFound("not found") }
            let type = file.hasSuffix(".css") ? "text/css; charset=utf-8" : file.hasSuffix(".js") ? "text/javascript; charset=utf-8"
                : file.hasSuffix(".svg") ? "image/svg+xml" : "application/octet-stream"
            return HTTPResponse(headers: [("Content-Type", type), ("Cache-Control", "public, max-age=3600")], body: .bytes(bytes))
        }

        get("/login") { request in
            if web.sessions.session(for: request) != nil { return .redirect("/") }
            return try web.page("login", [:], session: nil, title: "Log in")
        }

        post("/login") { request in
            try web.requireSameOrigin(request)
            let address = request.remoteAddress
            if let wait = web.throttle.retryAfter(address) {
                var response = try web.page("login", ["error": .string("Too many failed attempts. Try again in \(wait) s.")], session: nil,
                                            title: "Log in", status: 429)
                response.headers.add("Retry-After", String(wait))
                return response
            }
            let form = try web.form(request)
            guard web.credentials.isValidAdminPassword(form["password"] ?? "") else {
                web.throttle.recordFailure(address)
                Log.warning("failed login from \(address)")
                return try web.page("login", ["error": "Wrong password."], session: nil, title: "Log in", status: 401)
            }
            web.throttle.reset(address)
            let session = web.sessions.create()
            var response = HTTPResponse.redirect("/")
            response.headers.add("Set-Cookie", web.cookieHeader(session.id, maxAge: nil))
            return response
        }

        post("/logout") { request in
            let (session, _) = try web.requireAction(request)
            web.sessions.destroy(session.id)
            var response = HTTPResponse.redirect("/login")
            response.headers.add("Set-Cookie", web.cookieHeader("", maxAge: 0))
            return response
        }

        get("/") { request in
            let session = try web.requireSession(request)
            let apps = try web.store.apps()
            let models: [TemplateValue] = try apps.map { app in
                let live = try app.liveDeploymentID.flatMap { try web.store.deployment(id: $0) }
                return PageModel.app(app, config: web.config, live: live, busy: web.service.queue.isBusy(appID: app.id))
            }
            return try web.page("dashboard", ["apps": .list(models), "has_apps": .bool(!apps.isEmpty)], session: session, title: "Apps")
        }

        get("/deploy") { request in
            let session = try web.requireSession(request)
            return try web.page("deploy", ["form": ["branch": "main", "internal_port": "5000", "health_path": "/"]], session: session, title: "Deploy an app")
        }

        post("/deploy") { request in
            let (session, form) = try web.requireAction(request)
            do {
                let input = try DeployForm(form)
                let created = try web.service.create(.init(name: input.name, settings: input.settings, env: input.env, deploy: true))
                web.sessions.showOnce(session.id, key: created.app.name, secret: created.app.webhookSecret)
                return .redirect(created.deployment.map { "/deployments/\($0.id)" } ?? "/apps/\(created.app.name)")
            } catch let error as ValidationError {
                return try deployFormPage(web, session, form, field: error.field, message: error.message)
            } catch let error as StoreError {
                return try deployFormPage(web, session, form, field: "name", message: error.description)
            } catch let error as PortAllocator.Exhausted {
                return try deployFormPage(web, session, form, field: "repo_url", message: error.description)
            }
        }

        get("/apps/{name}") { request in
            let session = try web.requireSession(request)
            return try AppPage.render(web, session: session, app: try web.app(request))
        }

        get("/apps/{name}/logs") { request in
            _ = try web.requireSession(request)
            let app = try web.app(request)
            let text = (try? web.service.runtimeLogs(app, tail: 200)) ?? "(no runtime logs: the app has no running container)"
            return HTTPResponse(headers: [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")], body: .bytes(Array(text.utf8)))
        }

        get("/deployments/{id}") { request in
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
                context["log"] = .string(String(decoding: log, as: UTF8.self))
            }
            if let secret = web.sessions.takeShownOnce(session.id, key: app.name) { context["new_secret"] = .string(secret) }
            context["webhook_url"] = .string("\(web.config.effectivePublicURL)/hooks/github/\(app.name)")
            return try web.page("deployment", context, session: session, title: "Deployment \(d.id) of \(app.name)")
        }

        get("/deployments/{id}/log") { request in
            _ = try web.requireSession(request)
            guard let id = Int(request.parameter("id")), let d = try web.store.deployment(id: id) else { throw HTTPError.notFound("no such deployment") }
            let path = web.service.settings.logPath(deploymentID: d.id)
            return HTTPResponse(headers: [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")],
                                body: .stream { writer in try LogFollower.follow(path: path, deploymentID: d.id, store: web.store, writer: writer) })
        }

        post("/deployments/{id}/cancel") { request in
            _ = try web.requireAction(request)
            guard let id = Int(request.parameter("id")), let d = try web.store.deployment(id: id) else { throw HTTPError.notFound("no such deployment") }
            if !d.status.isFinished { _ = try web.service.cancel(d) }
            return .redirect("/deployments/\(id)")
        }

        addAppActions(web)
    }

    private mutating func addAppActions(_ web: WebContext) {
        post("/apps/{name}/redeploy") { request in
            _ = try web.requireAction(request)
            let d = try web.service.deploy(try web.app(request), trigger: .redeploy)
            return .redirect("/deployments/\(d.id)")
        }
        post("/apps/{name}/rollback") { request in
            let (_, form) = try web.requireAction(request)
            let target = form["deployment_id"].flatMap { Int($0) }
            let d = try web.service.rollback(try web.app(request), to: target)
            return .redirect("/deployments/\(d.id)")
        }
        for action in ["stop", "start", "restart"] {
            post("/apps/{name}/\(action)") { request in
                _ = try web.requireAction(request)
                let app = try web.app(request)
                switch action {
                case "stop": _ = try web.service.stop(app)
                case "start": _ = try web.service.start(app)
                default: _ = try web.service.restart(app)
                }
                return .redirect(request.headers["Referer"].flatMap { $0.hasSuffix("/apps/\(app.name)") ? "/apps/\(app.name)" : nil } ?? "/")
            }
        }
        post("/apps/{name}/delete") { request in
            _ = try web.requireAction(request)
            try web.service.delete(try web.app(request))
            return .redirect("/")
        }
        post("/apps/{name}/settings") { request in
            let (session, form) = try web.requireAction(request)
            let app = try web.app(request)
            do {
                let s = try DeployForm.settings(form, base: app)
                _ = try web.service.updateSettings(app, s, env: nil)
                return .redirect("/apps/\(app.name)")
            } catch let error as ValidationError {
                return try AppPage.render(web, session: session, app: app, error: error, form: form)
            }
        }
        post("/apps/{name}/env") { request in
            let (session, form) = try web.requireAction(request)
            let app = try web.app(request)
            do {
                let current = try web.store.env(appID: app.id)
                let env = try DeployForm.env(form["env"] ?? "", keeping: current)
                _ = try web.service.updateSettings(app, DeployForm.settings(of: app), env: env)
                return .redirect("/apps/\(app.name)")
            } catch let error as ValidationError {
                return try AppPage.render(web, session: session, app: app, error: error, form: form)
            }
        }
        post("/apps/{name}/webhook-secret") { request in
            let (session, _) = try web.requireAction(request)
            let app = try web.app(request)
            web.sessions.showOnce(session.id, key: app.name, secret: try web.service.rotateWebhookSecret(app))
            return .redirect("/apps/\(app.name)#webhook")
        }
        post("/apps/{name}/credentials") { request in
            let (session, form) = try web.requireAction(request)
            let app = try web.app(request)
            do {
                if let token = form["git_token"], !token.isEmpty { try web.service.setGitToken(app, token) }
                if form["clear_git_token"] == "1" { try web.service.setGitToken(app, nil) }
                if let token = form["github_token"], !token.isEmpty { try web.service.setGitHubToken(app, token) }
                if form["clear_github_token"] == "1" { try web.service.setGitHubToken(app, nil) }
                if form["generate_deploy_key"] == "1" { _ = try web.service.generateDeployKey(app) }
                if form["remove_deploy_key"] == "1" { try web.service.removeDeployKey(app) }
                return .redirect("/apps/\(app.name)#credentials")
            } catch let error as ValidationError {
                return try AppPage.render(web, session: session, app: app, error: error, form: [:])
            }
        }
    }
}

private func deployFormPage(_ web: WebContext, _ session: Session, _ form: [String: String], field: String, message: String) throws -> HTTPResponse {
    var values = [String: TemplateValue]()
    for key in ["repo_url", "name", "branch", "internal_port", "health_path", "env", "memory_mb", "cpus"] {
        values[key] = .string(form[key] ?? "")
    }
    return try web.page("deploy", ["form": .object(values), "errors": .object([field: .string(message)]), "has_errors": true],
                        session: session, title: "Deploy an app", status: 400)
}
