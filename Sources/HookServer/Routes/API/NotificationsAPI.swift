import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// Notification targets: an app's (/api/apps/{name}/notifications) and the server-wide ones
/// (/api/settings/notifications), each with its recent attempts, a test send, and a webhook
/// target's secret returned once, when it is added.
struct NotificationsAPI: Sendable {
    let api: APIContext
    static let shownAttempts = 10

    var settings: NotificationSettings { NotificationSettings(store: api.store) }

    func list(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        return .json(.array(try api.store.notificationTargets(appID: app.id).map(detail)))
    }

    func add(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        var body = try JSONBody(request, allowEmpty: false)
        let input = try Self.input(&body)
        try body.rejectUnknown()
        let target = try settings.add(appID: app.id, input)
        Log.info("app \(app.name): notification target \(target.id) (\(target.kind.rawValue)) added")
        var response = HTTPResponse.json(try detail(target, secret: target.secret), status: 201)
        response.headers.add("Cache-Control", "no-store")
        return response
    }

    func remove(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        try settings.remove(try self.target(request, appID: app.id))
        return .noContent
    }

    func test(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        let target = try self.target(request, appID: app.id)
        return try sendTest(target, app: app)
    }

    // MARK: server-wide

    func listServerWide(_ request: HTTPRequest) throws -> HTTPResponse {
        .json(.array(try api.store.notificationTargets(appID: nil).map(detail)))
    }

    /// The whole list: `[{"id"?, "type", "url", "events"}]`.
    func replaceServerWide(_ request: HTTPRequest) throws -> HTTPResponse {
        if let type = request.headers["Content-Type"], !type.lowercased().hasPrefix("application/json") {
            throw HTTPError(415, "the body must be JSON sent with Content-Type: application/json")
        }
        let value: JSON
        do { value = try JSONParser.parse(request.body) } catch { throw HTTPError.badRequest("the body is not valid JSON: \(error.message) at byte \(error.offset)") }
        guard let items = value.arrayValue else {
            throw ValidationError("notifications", "the body must be an array of targets such as [{\"type\": \"slack\", \"url\": \"https://...\", \"events\": [\"deployment.failed\"]}]")
        }
        let inputs = try items.map { item throws -> NotificationSettings.Input in
            guard let fields = item.objectValue else { throw ValidationError("notifications", "each target must be an object") }
            if let other = fields.first(where: { !["id", "type", "url", "events"].contains($0.0) }) {
                throw ValidationError(other.0, "unknown field '\(other.0)' in a target")
            }
            guard let type = item["type"]?.stringValue else { throw ValidationError("type", "type is required: webhook or slack") }
            guard let url = item["url"]?.stringValue else { throw ValidationError("url", "url is required") }
            guard let events = item["events"]?.arrayValue?.map({ $0.stringValue ?? "" }) else {
                throw ValidationError("events", "events must be an array of event names")
            }
            var id: Int?
            if let raw = item["id"] {
                if case .null = raw {} else {
                    guard let n = raw.intValue else { throw ValidationError("id", "id must be an integer") }
                    id = n
                }
            }
            return NotificationSettings.Input(id: id, type: type, url: url, events: events)
        }
        let targets = try settings.replaceServerWide(inputs)
        var response = HTTPResponse.json(.array(try targets.map { try detail($0, secret: $0.secret) }))
        response.headers.add("Cache-Control", "no-store")
        return response
    }

    func testServerWide(_ request: HTTPRequest) throws -> HTTPResponse {
        try sendTest(try target(request, appID: nil), app: nil)
    }

    // MARK: shared

    private func sendTest(_ target: NotificationTarget, app: App?) throws -> HTTPResponse {
        guard let queue = api.service.notifications else { throw HTTPError(503, "notifications are not running") }
        let id = try queue.sendTest(to: target, app: app)
        return .json(.object([("delivery_id", .string(id))]), status: 202)
    }

    private func target(_ request: HTTPRequest, appID: Int?) throws -> NotificationTarget {
        let raw = request.parameter("id")
        guard let id = Int(raw), let target = try api.store.notificationTarget(id: id), target.appID == appID else {
            throw HTTPError.notFound("no notification target \(raw.prefix(40))" + (appID == nil ? " server-wide" : " for this app"))
        }
        return target
    }

    static func input(_ body: inout JSONBody) throws -> NotificationSettings.Input {
        guard let type = try body.string("type") else { throw ValidationError("type", "type is required: webhook or slack") }
        guard let url = try body.string("url") else { throw ValidationError("url", "url is required: where to POST the notifications") }
        guard let events = try body.stringList("events") else {
            throw ValidationError("events", "events is required: " + NotificationEvent.choosable.map(\.rawValue).joined(separator: ", "))
        }
        return NotificationSettings.Input(type: type, url: url, events: events)
    }

    /// A target with its queue and its newest attempts; `secret` only when it was just made.
    func detail(_ target: NotificationTarget) throws -> JSON { try detail(target, secret: nil) }

    func detail(_ target: NotificationTarget, secret: String?) throws -> JSON {
        let attempts = try api.store.notificationAttempts(targetID: target.id, limit: Self.shownAttempts).map { a -> JSON in
            .object([("delivery_id", .string(a.deliveryID)), ("event", .string(a.event)), ("at", .string(a.at)),
                     ("status", .from(a.status)), ("latency_ms", .from(a.latencyMilliseconds)), ("error", .from(a.error))])
        }
        var fields = Self.summary(target)
        fields += [("pending", .from(try api.store.pendingNotificationCount(targetID: target.id))), ("recent_attempts", .array(attempts))]
        if let secret { fields.append(("secret", .string(secret))) }
        return .object(fields)
    }

    /// What the app JSON shows of each target.
    static func summary(_ target: NotificationTarget) -> [(String, JSON)] {
        [("id", .from(target.id)), ("type", .string(target.kind.rawValue)), ("url", .string(target.url)),
         ("events", .array(target.events.map { .string($0.rawValue) })), ("created_at", .string(target.createdAt))]
    }
}
