import SlipwayHTTP
import SlipwaySystem

/// /api/apps/{name}/requests: the app's newest requests through the HTTP edge, newest first,
/// from the in-memory ring (the last 200; `?limit=` shows fewer).
struct RequestsAPI: Sendable {
    let api: APIContext

    func recent(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        let capacity = api.accessLogs.ringCapacity
        let limit = try APIContext.boundedQuery(request, "limit", default: capacity, range: 1...capacity)
        return .json(.array(api.accessLogs.recent(appID: app.id).prefix(limit).map(AccessRecordJSON.encode)))
    }
}
