import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// A running app: stop, start, restart, its container's log, and the webhook deliveries it received.
struct AppControlAPI: Sendable {
    enum Action: String, CaseIterable, Sendable { case stop, start, restart }

    let api: APIContext

    func perform(_ action: Action, _ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        try JSONBody(request).rejectUnknown()
        let updated: App
        switch action {
        case .stop: updated = try api.service.stop(app)
        case .start: updated = try api.service.start(app)
        case .restart: updated = try api.service.restart(app)
        }
        return .json(try api.appJSON(updated))
    }

    func runtimeLogs(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        let tail = try APIContext.boundedQuery(request, "tail", default: 200, range: 1...10_000)
        return .text(try api.service.runtimeLogs(app, tail: tail))
    }

    func deliveries(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        return .json(.array(try api.store.deliveries(appID: app.id).map { d in
            .object([("time", .string(d.createdAt)), ("event", .from(d.event)), ("delivery_id", .from(d.deliveryID)),
                     ("result", .string(d.result.text)), ("deployment_id", .from(d.deploymentID))])
        }))
    }
}
