import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// /api/apps and /api/apps/{name}: list, create, read, change and delete apps.
struct AppsAPI: Sendable {
    let api: APIContext

    func list(_ request: HTTPRequest) throws -> HTTPResponse {
        .json(.array(try api.store.apps().map { try api.appJSON($0) }))
    }

    func create(_ request: HTTPRequest) throws -> HTTPResponse {
        var body = try JSONBody(request, allowEmpty: false)
        let repo = try body.string("repo_url")
        var settings = AppSettings(repoURL: repo ?? "")
        let name = try body.string("name")
        if let v = try body.string("branch") { settings.branch = v }
        if let v = try body.string("server") { settings.server = v }
        if let v = try body.int("internal_port") { settings.internalPort = v }
        if let v = try body.string("health_path") { settings.healthPath = v }
        settings.memoryMB = try body.int("memory_mb")
        settings.cpus = try body.double("cpus")
        settings.maxRequestBody = try body.byteSize("max_request_body")
        settings.httpsRedirect = try body.bool("https_redirect") ?? true
        settings.hsts = try body.bool("hsts") ?? false
        settings.initProcess = try body.bool("init") ?? true
        settings.stopTimeout = try body.int("stop_timeout")
        let env = try body.stringMap("env") ?? []
        let deploy = try body.bool("deploy") ?? true
        let gitToken = try body.string("git_token")
        let githubToken = try body.string("github_token")
        let domains = try body.stringList("domains") ?? []
        let volumes = try body.volumes("volumes") ?? []
        // Unknown fields first: a misspelt "repo_url" should be named as such.
        try body.rejectUnknown()
        guard repo != nil else { throw ValidationError("repo_url", "repo_url is required") }
        let created = try api.service.create(.init(name: name, settings: settings, env: env, deploy: deploy,
                                                   gitToken: gitToken, githubToken: githubToken, domains: domains, volumes: volumes))
        var json = try api.appJSON(created.app, includeSecret: true)
        if case .object(var pairs) = json, let d = created.deployment {
            pairs.append(("deployment_id", .from(d.id)))
            json = .object(pairs)
        }
        var response = HTTPResponse.json(json, status: 201)
        response.headers.add("Location", "/api/apps/\(created.app.name)")
        response.headers.add("Cache-Control", "no-store")
        return response
    }

    func show(_ request: HTTPRequest) throws -> HTTPResponse {
        .json(try api.appJSON(try api.app(request)))
    }

    func update(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        var body = try JSONBody(request)
        var s = AppSettings(of: app)
        if let v = try body.string("repo_url") { s.repoURL = v }
        if let v = try body.string("branch") { s.branch = v }
        if let v = try body.string("server") { s.server = v }
        if let v = try body.int("internal_port") { s.internalPort = v }
        if let v = try body.string("health_path") { s.healthPath = v }
        // null clears a limit; absence keeps it.
        if body.has("memory_mb") { s.memoryMB = try body.int("memory_mb") }
        if body.has("cpus") { s.cpus = try body.double("cpus") }
        // null goes back to the server's --max-request-body.
        if body.has("max_request_body") { s.maxRequestBody = try body.byteSize("max_request_body") }
        if body.has("https_redirect") { s.httpsRedirect = try body.bool("https_redirect") ?? true }
        if body.has("hsts") { s.hsts = try body.bool("hsts") ?? false }
        if body.has("init") { s.initProcess = try body.bool("init") ?? true }
        // null goes back to the server's stop timeout.
        if body.has("stop_timeout") { s.stopTimeout = try body.int("stop_timeout") }
        let env = try body.stringMap("env")
        let gitToken = try body.secretChange("git_token")
        let githubToken = try body.secretChange("github_token")
        // The whole list: [] clears it; absent (or null) keeps it.
        let domains = try body.stringList("domains")
        // The whole list too; a volume left out keeps its data.
        let volumes = try body.volumes("volumes")
        try body.rejectUnknown()
        let updated = try api.service.update(app, settings: s, env: env, gitToken: gitToken, githubToken: githubToken, domains: domains,
                                             volumes: volumes)
        return .json(try api.appJSON(updated))
    }

    /// `?volumes=delete` deletes the app's volumes (their data) too; without it they are kept,
    /// listed by `GET /api/volumes` until deleted there.
    func delete(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        let volumes: Bool
        switch request.query["volumes"] {
        case nil, "keep": volumes = false
        case "delete": volumes = true
        case let other?: throw ValidationError("volumes", "volumes must be delete or keep, got \(other.prefix(40).debugDescription)")
        }
        try api.service.delete(app, volumes: volumes)
        api.rejectedDeliveries.forget(appID: app.id)
        api.accessLogs.remove(appID: app.id, name: app.name)
        return .noContent
    }
}
