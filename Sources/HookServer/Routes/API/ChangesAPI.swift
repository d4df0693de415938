import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// /api/apps/{name}/changes: who changed the app's env, volumes and notification targets, and
/// when, newest first: names, never values.
struct ChangesAPI: Sendable {
    let api: APIContext

    func list(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        return .json(.array(try api.store.changes(appID: app.id, limit: 200).map(Self.json)))
    }

    static func json(_ change: AppChange) -> JSON {
        .object([("at", .string(change.at)), ("actor", .string(change.actor.rawValue)), ("summary", .string(change.summary))])
    }
}
