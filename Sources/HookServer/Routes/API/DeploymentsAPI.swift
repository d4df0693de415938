import FoundationEssentials
import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// Deployments: start one (deploy, redeploy, rollback), list an app's, read one and its log, cancel.
struct DeploymentsAPI: Sendable {
    let api: APIContext

    func deploy(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        var body = try JSONBody(request)
        let ref = try body.string("ref")
        try body.rejectUnknown()
        return .json(try api.deploymentJSON(try api.service.deploy(app, trigger: .manual, ref: ref)), status: 202)
    }

    func redeploy(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        try JSONBody(request).rejectUnknown()
        return .json(try api.deploymentJSON(try api.service.deploy(app, trigger: .redeploy)), status: 202)
    }

    func rollback(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        var body = try JSONBody(request)
        let target = try body.int("deployment_id")
        try body.rejectUnknown()
        return .json(try api.deploymentJSON(try api.service.rollback(app, to: target)), status: 202)
    }

    func history(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        let limit = try APIContext.boundedQuery(request, "limit", default: 50, range: 1...1000)
        let list = try api.store.deployments(appID: app.id, limit: limit)
        return .json(.array(list.map { DeploymentJSON.encode($0, liveID: app.liveDeploymentID) }))
    }

    func show(_ request: HTTPRequest) throws -> HTTPResponse {
        .json(try api.deploymentJSON(try api.deployment(request)))
    }

    /// The build log; with ?follow=1 and the deployment still running, streamed as it grows.
    func log(_ request: HTTPRequest) throws -> HTTPResponse {
        let d = try api.deployment(request)
        let path = api.service.settings.logPath(deploymentID: d.id)
        if request.query["follow"] == "1" && !d.status.isFinished {
            let store = api.store
            return HTTPResponse(headers: [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")],
                                body: .stream { writer in try LogFollower.follow(path: path, deploymentID: d.id, store: store, writer: writer) })
        }
        let data = FileManager.default.contents(atPath: path) ?? Data()
        return HTTPResponse(headers: [("Content-Type", "text/plain; charset=utf-8")], body: .bytes(Array(data)))
    }

    func cancel(_ request: HTTPRequest) throws -> HTTPResponse {
        let d = try api.deployment(request)
        return .json(try api.deploymentJSON(try api.service.cancel(d)))
    }
}
