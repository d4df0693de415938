import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// The dashboard's notification targets: the app page's section and the server-wide ones on the
/// settings page (/settings). Adding a webhook target shows its secret once; each target has a
/// "send test" button and its recent attempts.
struct NotificationPages: Sendable {
    let web: WebContext
    static let shownAttempts = 5

    /// What a page shows of its targets.
    static func model(_ web: WebContext, appID: Int?, basePath: String) throws -> [TemplateValue] {
        try web.store.notificationTargets(appID: appID).map { target in
            let attempts = try web.store.notificationAttempts(targetID: target.id, limit: shownAttempts)
            let last: String = attempts.first.map { a in
                "\(a.at): " + (a.status.map { "HTTP \($0)" } ?? "no answer") + (a.error.map { " (\($0))" } ?? "") + ", \(a.latencyMilliseconds) ms"
            } ?? "nothing sent yet"
            return .object(["id": .string(String(target.id)), "type": .string(target.kind.rawValue), "url": .string(target.url),
                            "events": .string(target.events.map(\.rawValue).joined(separator: ", ")),
                            "last": .string(last), "pending": .string(String(try web.store.pendingNotificationCount(targetID: target.id))),
                            "action": .string("\(basePath)/\(target.id)")])
        }
    }

    static var eventChoices: TemplateValue {
        .list(NotificationEvent.choosable.map { .object(["name": .string($0.rawValue)]) })
    }

    // MARK: an app's

    func addToApp(_ request: HTTPRequest) throws -> HTTPResponse {
        let (session, form) = try web.requireAction(request)
        let app = try web.app(request)
        do {
            let target = try NotificationSettings(store: web.store).add(appID: app.id, Self.input(form), actor: .dashboard)
            if let secret = target.secret { web.sessions.showOnce(session.id, key: "notification:\(app.name)", secret: secret) }
            return .redirect("/apps/\(app.name)#notifications")
        } catch let error as ValidationError {
            return try AppPage.render(web, session: session, app: app, error: ValidationError("notification_" + error.field, error.message), form: form)
        }
    }

    func removeFromApp(_ request: HTTPRequest) throws -> HTTPResponse {
        _ = try web.requireAction(request)
        let app = try web.app(request)
        try NotificationSettings(store: web.store).remove(try target(request, appID: app.id), actor: .dashboard)
        return .redirect("/apps/\(app.name)#notifications")
    }

    func testForApp(_ request: HTTPRequest) throws -> HTTPResponse {
        _ = try web.requireAction(request)
        let app = try web.app(request)
        _ = try web.service.notifications?.sendTest(to: try target(request, appID: app.id), app: app)
        return .redirect("/apps/\(app.name)#notifications")
    }

    // MARK: server-wide

    func settingsPage(_ request: HTTPRequest) throws -> HTTPResponse {
        try renderSettings(web.requireSession(request), error: nil, form: [:])
    }

    func addServerWide(_ request: HTTPRequest) throws -> HTTPResponse {
        let (session, form) = try web.requireAction(request)
        do {
            let target = try NotificationSettings(store: web.store).add(appID: nil, Self.input(form), actor: .dashboard)
            if let secret = target.secret { web.sessions.showOnce(session.id, key: "notification:server", secret: secret) }
            return .redirect("/settings#notifications")
        } catch let error as ValidationError {
            return try renderSettings(session, error: error, form: form)
        }
    }

    func removeServerWide(_ request: HTTPRequest) throws -> HTTPResponse {
        _ = try web.requireAction(request)
        try NotificationSettings(store: web.store).remove(try target(request, appID: nil), actor: .dashboard)
        return .redirect("/settings#notifications")
    }

    func testServerWide(_ request: HTTPRequest) throws -> HTTPResponse {
        _ = try web.requireAction(request)
        _ = try web.service.notifications?.sendTest(to: try target(request, appID: nil), app: nil)
        return .redirect("/settings#notifications")
    }

    private func renderSettings(_ session: Session, error: ValidationError?, form: [String: String]) throws -> HTTPResponse {
        let targets = try Self.model(web, appID: nil, basePath: "/settings/notifications")
        var context: [String: TemplateValue] = [
            "notification_targets": .list(targets),
            "has_notification_targets": .bool(!targets.isEmpty),
            "notification_events": Self.eventChoices,
            "notification_form_action": "/settings/notifications",
            "form_url": .string(form["url"] ?? ""),
        ]
        if let secret = web.sessions.takeShownOnce(session.id, key: "notification:server") { context["notification_secret"] = .string(secret) }
        if let error {
            context["errors"] = .object(["notification_" + error.field: .string(error.message)])
            context["has_errors"] = true
        }
        return try web.page("settings", context, session: session, title: "Settings", status: error == nil ? 200 : 400)
    }

    private func target(_ request: HTTPRequest, appID: Int?) throws -> NotificationTarget {
        guard let id = Int(request.parameter("id")), let target = try web.store.notificationTarget(id: id), target.appID == appID else {
            throw HTTPError.notFound("no such notification target")
        }
        return target
    }

    /// The form's fields: `type`, `url`, and one `event.<name>` checkbox per event.
    static func input(_ form: [String: String]) -> NotificationSettings.Input {
        NotificationSettings.Input(type: form["type"] ?? "", url: (form["url"] ?? "").trimmingSpaces().description,
                                   events: NotificationEvent.choosable.map(\.rawValue).filter { form["event.\($0)"] == "1" })
    }
}
