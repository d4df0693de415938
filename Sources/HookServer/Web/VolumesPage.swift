import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// /volumes: the volumes no app lists any more (their app deleted without them, or taken off its
/// list), with their size, each deleted with its data on request.
struct VolumesPage: Sendable {
    let web: WebContext

    func show(_ request: HTTPRequest) throws -> HTTPResponse {
        let session = try web.requireSession(request)
        let volumes = try web.service.leftVolumes(withSizes: true).map { v -> TemplateValue in
            .object(["name": .string(v.name), "app": .string(v.app), "size": .string(v.size ?? "unknown")])
        }
        return try web.page("volumes", ["volumes": .list(volumes), "has_volumes": .bool(!volumes.isEmpty)], session: session, title: "Volumes")
    }

    func delete(_ request: HTTPRequest) throws -> HTTPResponse {
        _ = try web.requireAction(request)
        let name = request.parameter("volume")
        guard try web.service.deleteLeftVolume(named: name) else { throw HTTPError.notFound("no volume named \(name.prefix(100)) left by an app") }
        return .redirect("/volumes")
    }
}
