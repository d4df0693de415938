import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// The dashboard's forms that change something: deploy, redeploy, roll back, stop/start/restart,
/// delete, settings, env, the webhook secret and credentials. Each goes through `requireAction`
/// (session, same origin, CSRF token) and answers with a redirect, or the page again with the error.
struct AppActions: Sendable {
    enum Control: String, CaseIterable, Sendable { case stop, start, restart }

    let web: WebContext

    func deploy(_ request: HTTPRequest) throws -> HTTPResponse {
        let (session, form) = try web.requireAction(request)
        do {
            let input = try DeployForm(form)
            let created = try web.service.create(.init(name: input.name, settings: input.settings, env: input.env, deploy: true,
                                                       domains: input.domains, volumes: input.volumes))
            web.sessions.showOnce(session.id, key: created.app.name, secret: created.app.webhookSecret)
            return .redirect(created.deployment.map { "/deployments/\($0.id)" } ?? "/apps/\(created.app.name)")
        } catch let error as ValidationError {
            return try deployFormPage(session, form, field: error.field, message: error.message)
        } catch let error as StoreError {
            return try deployFormPage(session, form, field: Self.field(of: error), message: error.description)
        } catch let error as PortAllocator.Exhausted {
            return try deployFormPage(session, form, field: "repo_url", message: error.description)
        }
    }

    func cancel(_ request: HTTPRequest) throws -> HTTPResponse {
        _ = try web.requireAction(request)
        guard let id = Int(request.parameter("id")), let d = try web.store.deployment(id: id) else { throw HTTPError.notFound("no such deployment") }
        if !d.status.isFinished { _ = try web.service.cancel(d) }
        return .redirect("/deployments/\(id)")
    }

    func redeploy(_ request: HTTPRequest) throws -> HTTPResponse {
        _ = try web.requireAction(request)
        let d = try web.service.deploy(try web.app(request), trigger: .redeploy)
        return .redirect("/deployments/\(d.id)")
    }

    func rollback(_ request: HTTPRequest) throws -> HTTPResponse {
        let (_, form) = try web.requireAction(request)
        let target = form["deployment_id"].flatMap { Int($0) }
        let d = try web.service.rollback(try web.app(request), to: target)
        return .redirect("/deployments/\(d.id)")
    }

    func perform(_ control: Control, _ request: HTTPRequest) throws -> HTTPResponse {
        _ = try web.requireAction(request)
        let app = try web.app(request)
        switch control {
        case .stop: _ = try web.service.stop(app)
        case .start: _ = try web.service.start(app)
        case .restart: _ = try web.service.restart(app)
        }
        // Back to the app's page when the button was there, else to the list.
        return .redirect(request.headers["Referer"].flatMap { $0.hasSuffix("/apps/\(app.name)") ? "/apps/\(app.name)" : nil } ?? "/")
    }

    func delete(_ request: HTTPRequest) throws -> HTTPResponse {
        let (_, form) = try web.requireAction(request)
        let app = try web.app(request)
        // The page asks (a box ticked) before data goes; unticked, the volumes are kept.
        try web.service.delete(app, volumes: form["delete_volumes"] == "1")
        web.rejectedDeliveries.forget(appID: app.id)
        web.accessLogs.remove(appID: app.id, name: app.name)
        return .redirect("/")
    }

    func settings(_ request: HTTPRequest) throws -> HTTPResponse {
        let (session, form) = try web.requireAction(request)
        let app = try web.app(request)
        do {
            let s = try DeployForm.settings(form, base: app)
            // A form without the field (an older page) leaves the domains (the volumes) as they are.
            _ = try web.service.update(app, settings: s, env: nil, domains: form["domains"].map(DeployForm.domains),
                                       volumes: try form["volumes"].map(DeployForm.volumes), actor: .dashboard)
            return .redirect("/apps/\(app.name)")
        } catch let error as ValidationError {
            return try AppPage.render(web, session: session, app: app, error: error, form: form)
        } catch let error as StoreError where Self.field(of: error) == "domains" {
            return try AppPage.render(web, session: session, app: app, error: ValidationError("domains", error.description), form: form)
        }
    }

    func env(_ request: HTTPRequest) throws -> HTTPResponse {
        let (session, form) = try web.requireAction(request)
        let app = try web.app(request)
        do {
            let current = try web.store.env(appID: app.id)
            let env = try DeployForm.env(form["env"] ?? "", keeping: current)
            _ = try web.service.update(app, settings: AppSettings(of: app), env: env, actor: .dashboard)
            return .redirect("/apps/\(app.name)")
        } catch let error as ValidationError {
            return try AppPage.render(web, session: session, app: app, error: error, form: form)
        }
    }

    func rotateWebhookSecret(_ request: HTTPRequest) throws -> HTTPResponse {
        let (session, _) = try web.requireAction(request)
        let app = try web.app(request)
        web.sessions.showOnce(session.id, key: app.name, secret: try web.service.rotateWebhookSecret(app))
        return .redirect("/apps/\(app.name)#webhook")
    }

    func credentials(_ request: HTTPRequest) throws -> HTTPResponse {
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

    /// Uploads a certificate and key for one of the app's domains; a refusal comes back beside
    /// its field, the PEM text never echoed.
    func uploadCertificate(_ request: HTTPRequest) throws -> HTTPResponse {
        let (session, form) = try web.requireAction(request)
        let app = try web.app(request)
        do {
            let domain = form["domain"] ?? ""
            guard app.domains.contains(where: { $0.value == domain }) else {
                throw ValidationError("domain", "\(app.name) has no domain \(domain.prefix(253))")
            }
            let summary = try web.certificates.upload(domain: domain, chainPEM: Array((form["certificate"] ?? "").utf8),
                                                      keyPEM: Array((form["private_key"] ?? "").utf8))
            Log.info("certificate for \(domain) (app \(app.name)) uploaded from the dashboard: issuer \(summary.issuer)")
            return .redirect("/apps/\(app.name)#certificates")
        } catch let error as ValidationError {
            return try AppPage.render(web, session: session, app: app, error: error, form: [:])
        }
    }

    func removeCertificate(_ request: HTTPRequest) throws -> HTTPResponse {
        let (_, form) = try web.requireAction(request)
        let app = try web.app(request)
        let domain = form["domain"] ?? ""
        if app.domains.contains(where: { $0.value == domain }) { web.certificates.remove(domain: domain) }
        return .redirect("/apps/\(app.name)#certificates")
    }

    /// The field a conflict is shown beside.
    private static func field(of error: StoreError) -> String {
        if case .domainTaken = error { return "domains" }
        return "name"
    }

    /// The deploy form again, with what was typed and the error beside its field.
    private func deployFormPage(_ session: Session, _ form: [String: String], field: String, message: String) throws -> HTTPResponse {
        var values = [String: TemplateValue]()
        for key in ["repo_url", "name", "branch", "server", "internal_port", "health_path", "env", "memory_mb", "cpus", "max_request_body", "domains",
                    "volumes"] {
            values[key] = .string(form[key] ?? "")
        }
        return try web.page("deploy", ["form": .object(values), "errors": .object([field: .string(message)]), "has_errors": true,
                                       "default_max_request_body": .string(ByteSize.text(web.config.maxRequestBody))],
                            session: session, title: "Deploy an app", status: 400)
    }
}
