import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// /api/volumes: the volumes Slipway made that no app lists now (their app deleted without them,
/// or taken off its app's list), with their size, and their deletion. An app's own volumes are
/// in its JSON (`volumes`).
struct VolumesAPI: Sendable {
    let api: APIContext

    func list(_ request: HTTPRequest) throws -> HTTPResponse {
        .json(.array(try api.service.leftVolumes(withSizes: true).map(Self.json)))
    }

    func delete(_ request: HTTPRequest) throws -> HTTPResponse {
        let name = request.parameter("volume")
        guard try api.service.deleteLeftVolume(named: name) else { throw HTTPError.notFound("no volume named \(name.prefix(100)) left by an app") }
        return .noContent
    }

    static func json(_ volume: AppService.LeftVolume) -> JSON {
        .object([("name", .string(volume.name)), ("app", .string(volume.app)), ("size", volume.size.map(JSON.string) ?? .null)])
    }
}
