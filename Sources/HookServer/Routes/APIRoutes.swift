import FoundationEssentials
import Pipeline
import SlipwayHTTP
import SlipwaySystem

extension Router {
    mutating func addAPIRoutes(_ api: APIContext) {
        answerErrorsAsJSON(under: "/api")
        get("/api/apps", api.authenticated { _ in
            .json(.array(try api.store.apps().map { try api.appJSON($0) }))
        })

        post("/api/apps", api.authenticated { request in
            var body = try JSONBody(request, allowEmpty: false)
            let repo = try body.string("repo_url")
            var settings = AppSettings(repoURL: repo ?? "")
            let name = try body.string("name")
            if let v = try body.string("branch") { settings.branch = v }
            if let v = try body.int("internal_port") { settings.internalPort = v }
            if let v = try body.string("health_path") { settings.healthPath = v }
            settings.memoryMB = try body.int("memory_mb")
            settings.cpus = try body.double("cpus")
            let env = try body.stringMap("env") ?? []
            let deploy = try body.bool("deploy") ?? true
            let gitToken = try body.string("git_token")
            let githubToken = try body.string("github_token")
            // Unknown fields first: a misspelt "repo_url" should be named as such.
            try body.rejectUnknown()
            guard repo != nil else { throw ValidationError("repo_url", "repo_url is required") }
            if let gitToken { try AppValidation.secretToken(gitToken, field: "git_token") }
            if let githubToken { try AppValidation.secretToken(githubToken, field: "github_token") }
            // Credentials are stored before the first deployment is queued, so it can use them.
            var created = try api.service.create(.init(name: name, settings: settings, env: env, deploy: false))
            if gitToken != nil { try api.service.setGitToken(created.app, gitToken) }
            if githubToken != nil { try api.service.setGitHubToken(created.app, githubToken) }
            if gitToken != nil || githubToken != nil { created.app = try api.store.app(id: created.app.id) ?? created.app }
            if deploy { created.deployment = try api.service.deploy(created.app, trigger: .manual) }
            var json = try api.appJSON(created.app, includeSecret: true)
            if case .object(var pairs) = json, let d = created.deployment {
                pairs.append(("deployment_id", .from(d.id)))
                json = .object(pairs)
            }
            var response = HTTPResponse.json(json, status: 201)
            response.headers.add("Location", "/api/apps/\(created.app.name)")
            response.headers.add("Cache-Control", "no-store")
            return response
        })

        get("/api/apps/{name}", api.authenticated { request in .json(try api.appJSON(try api.app(request))) })

        patch("/api/apps/{name}", api.authenticated { request in
            let app = try api.app(request)
            var body = try JSONBody(request)
            var s = AppSettings(repoURL: app.repoURL, branch: app.branch, internalPort: app.internalPort,
                                healthPath: app.healthPath, memoryMB: app.memoryMB, cpus: app.cpus)
            if let v = try body.string("repo_url") { s.repoURL = v }
            if let v = try body.string("branch") { s.branch = v }
            if let v = try body.int("internal_port") { s.internalPort = v }
            if let v = try body.string("health_path") { s.healthPath = v }
            // null clears a limit; absence keeps it.
            if body.has("memory_mb") { s.memoryMB = try body.int("memory_mb") }
            if body.has("cpus") { s.cpus = try body.double("cpus") }
            let env = try body.stringMap("env")
            let tokens = (git: body.has("git_token"), github: body.has("github_token"))
            let gitToken = try body.string("git_token"), githubToken = try body.string("github_token")
            try body.rejectUnknown()
            let updated = try api.service.updateSettings(app, s, env: env)
            if tokens.git { try api.service.setGitToken(app, gitToken) }
            if tokens.github { try api.service.setGitHubToken(app, githubToken) }
            return .json(try api.appJSON(try api.store.app(id: updated.id) ?? updated))
        })

        delete("/api/apps/{name}", api.authenticated { request in
            try api.service.delete(try api.app(request))
            return .noContent
        })

        post("/api/apps/{name}/deployments", api.authenticated { request in
            let app = try api.app(request)
            var body = try JSONBody(request)
            let ref = try body.string("ref")
            try body.rejectUnknown()
            return .json(try api.deploymentJSON(try api.service.deploy(app, trigger: .manual, ref: ref)), status: 202)
        })

        post("/api/apps/{name}/redeploy", api.authenticated { request in
            let app = try api.app(request)
            try JSONBody(request).rejectUnknown()
            return .json(try api.deploymentJSON(try api.service.deploy(app, trigger: .redeploy)), status: 202)
        })

        post("/api/apps/{name}/rollback", api.authenticated { request in
            let app = try api.app(request)
            var body = try JSONBody(request)
            let target = try body.int("deployment_id")
            try body.rejectUnknown()
            return .json(try api.deploymentJSON(try api.service.rollback(app, to: target)), status: 202)
        })

        get("/api/apps/{name}/deployments", api.authenticated { request in
            let app = try api.app(request)
            var limit = 50
            if let text = request.query["limit"] {
                guard let n = Int(text), (1...1000).contains(n) else { throw ValidationError("limit", "limit must be between 1 and 1000") }
                limit = n
            }
            let list = try api.store.deployments(appID: app.id, limit: limit)
            return .json(.array(list.map { DeploymentJSON.encode($0, liveID: app.liveDeploymentID) }))
        })

        for action in ["stop", "start", "restart"] {
            post("/api/apps/{name}/\(action)", api.authenticated { request in
                let app = try api.app(request)
                try JSONBody(request).rejectUnknown()
                let updated: App
                switch action {
                case "stop": updated = try api.service.stop(app)
                case "start": updated = try api.service.start(app)
                default: updated = try api.service.restart(app)
                }
                return .json(try api.appJSON(updated))
            })
        }

        get("/api/apps/{name}/logs", api.authenticated { request in
            let app = try api.app(request)
            var tail = 200
            if let text = request.query["tail"] {
                guard let n = Int(text), (1...10_000).contains(n) else { throw ValidationError("tail", "tail must be between 1 and 10000") }
                tail = n
            }
            return .text(try api.service.runtimeLogs(app, tail: tail))
        })

        get("/api/apps/{name}/deliveries", api.authenticated { request in
            let app = try api.app(request)
            return .json(.array(try api.store.deliveries(appID: app.id).map { d in
                .object([("time", .string(d.createdAt)), ("event", .from(d.event)), ("delivery_id", .from(d.deliveryID)),
                         ("result", .string(d.result)), ("deployment_id", .from(d.deploymentID))])
            }))
        })

        post("/api/apps/{name}/webhook-secret", api.authenticated { request in
            let app = try api.app(request)
            try JSONBody(request).rejectUnknown()
            let secret = try api.service.rotateWebhookSecret(app)
            var response = HTTPResponse.json(.object([("webhook_secret", .string(secret)),
                                                      ("webhook_url", .string("\(api.config.effectivePublicURL)/hooks/github/\(app.name)"))]))
            response.headers.add("Cache-Control", "no-store")
            return response
        })

        post("/api/apps/{name}/deploy-key", api.authenticated { request in
            let app = try api.app(request)
            try JSONBody(request).rejectUnknown()
            return .json(.object([("public_key", .string(try api.service.generateDeployKey(app)))]), status: 201)
        })

        get("/api/apps/{name}/deploy-key", api.authenticated { request in
            let app = try api.app(request)
            guard let key = app.deployKeyPublic else { throw HTTPError.notFound("\(app.name) has no deploy key") }
            return .json(.object([("public_key", .string(key))]))
        })

        delete("/api/apps/{name}/deploy-key", api.authenticated { request in
            try api.service.removeDeployKey(try api.app(request))
            return .noContent
        })

        get("/api/deployments/{id}", api.authenticated { request in .json(try api.deploymentJSON(try api.deployment(request))) })

        get("/api/deployments/{id}/log", api.authenticated { request in
            let d = try api.deployment(request)
            let path = api.service.settings.logPath(deploymentID: d.id)
            if request.query["follow"] == "1" && !d.status.isFinished {
                return HTTPResponse(headers: [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")],
                                    body: .stream { writer in try LogFollower.follow(path: path, deploymentID: d.id, store: api.store, writer: writer) })
            }
            let data = FileManager.default.contents(atPath: path) ?? Data()
            return HTTPResponse(headers: [("Content-Type", "text/plain; charset=utf-8")], body: .bytes(Array(data)))
        })

        post("/api/deployments/{id}/cancel", api.authenticated { request in
            let d = try api.deployment(request)
            return .json(try api.deploymentJSON(try api.service.cancel(d)))
        })
    }
}
