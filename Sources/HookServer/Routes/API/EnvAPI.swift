import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// PATCH /api/apps/{name}/env: sets and unsets some env vars, keeping the rest (the app's PATCH
/// replaces the whole set, and values are never read back, so a client could not keep them).
struct EnvAPI: Sendable {
    let api: APIContext

    func change(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        var body = try JSONBody(request, allowEmpty: false)
        let set = try body.stringMap("set") ?? []
        let unset = try body.stringList("unset") ?? []
        try body.rejectUnknown()
        var env = try api.store.env(appID: app.id).map { ($0.name, $0.value) }
        env.removeAll { pair in unset.contains(pair.0) || set.contains { $0.0 == pair.0 } }
        env += set
        let updated = try api.service.update(app, settings: AppSettings(of: app), env: env)
        return .json(try api.appJSON(updated))
    }
}
