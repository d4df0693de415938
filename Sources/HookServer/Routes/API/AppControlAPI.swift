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

    /// The newest 50 deliveries, newest first: the stored ones and, merged by time, the sample
    /// of those refused for their signature, which are only counted in memory.
    func deliveries(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        let limit = 50
        var rows: [(time: String, json: JSON)] = try api.store.deliveries(appID: app.id, limit: limit).map { d in
            (d.createdAt, Self.delivery(time: d.createdAt, event: d.event, id: d.deliveryID, result: d.result, deploymentID: d.deploymentID))
        }
        for sample in api.rejectedDeliveries.samples(appID: app.id) {
            rows.append((sample.time, Self.delivery(time: sample.time, event: sample.event, id: sample.deliveryID,
                                                    result: .rejected(sample.reason), deploymentID: nil)))
        }
        // Timestamps are ISO 8601 UTC with milliseconds, so they sort as text; ties keep their order.
        let newest = rows.enumerated().sorted { a, b in
            a.element.time != b.element.time ? a.element.time > b.element.time : a.offset < b.offset
        }
        return .json(.array(newest.prefix(limit).map(\.element.json)))
    }

    private static func delivery(time: String, event: String?, id: String?, result: DeliveryResult, deploymentID: Int?) -> JSON {
        .object([("time", .string(time)), ("event", .from(event)), ("delivery_id", .from(id)),
                 ("result", .string(result.text)), ("deployment_id", .from(deploymentID))])
    }

}
