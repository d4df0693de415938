import FoundationEssentials
import Edge
import Pipeline
import SlipwaySystem
import SlipwayHTTP

/// The app page: status, settings, env, webhook, credentials, runtime logs and history.
enum AppPage {
    static func render(_ web: WebContext, session: Session, app: App, error: ValidationError? = nil, form: [String: String] = [:]) throws -> HTTPResponse {
        let history = try web.store.deployments(appID: app.id, limit: 100)
        let live = history.first { $0.id == app.liveDeploymentID }
        let keptImages = Set(history.filter { $0.status == .succeeded }.prefix(web.service.settings.keepImages).compactMap(\.image))
        let rows: [TemplateValue] = history.map { d in
            let canRollback = d.status == .succeeded && d.id != app.liveDeploymentID && d.image.map(keptImages.contains) == true
            return PageModel.deployment(d, liveID: app.liveDeploymentID, canRollback: canRollback)
        }
        let env = try web.store.env(appID: app.id)
        let deliveries = try latestDeliveries(web, app: app)
        let refused = web.rejectedDeliveries.summary(appID: app.id)
        var context: [String: TemplateValue] = [
            "app": PageModel.app(app, config: web.config, live: live, busy: web.service.queue.isBusy(appID: app.id)),
            "deployments": .list(rows),
            "has_deployments": .bool(!rows.isEmpty),
            "env_text": .string(env.map { "\($0.name)=\(DeployForm.mask)" }.joined(separator: "\n")),
            "env_names": .list(env.map { .string($0.name) }),
            "webhook_url": .string("\(web.config.effectivePublicURL)/hooks/github/\(app.name)"),
            "deliveries": .list(deliveries),
            "has_deliveries": .bool(!deliveries.isEmpty),
        ]
        let requests = web.accessLogs.recent(appID: app.id).prefix(shownRequests).map(requestRow)
        context["requests"] = .list(requests)
        context["has_requests"] = .bool(!requests.isEmpty)
        context["traffic"] = .string(trafficSummary(web.accessLogs.counters(appID: app.id)))
        if let latest = refused.latest {
            context["refused_deliveries"] = .string("\(refused.count) deliveries refused for their signature or headers since the server started; "
                                                    + "the last at \(latest.time) from \(latest.client) (\(latest.reason)).")
        }
        if let secret = web.sessions.takeShownOnce(session.id, key: app.name) { context["new_secret"] = .string(secret) }
        let targets = try NotificationPages.model(web, appID: app.id, basePath: "/apps/\(app.name)/notifications")
        context["notification_targets"] = .list(targets)
        context["has_notification_targets"] = .bool(!targets.isEmpty)
        context["notification_events"] = NotificationPages.eventChoices
        let changes = try web.store.changes(appID: app.id, limit: 20).map { change -> TemplateValue in
            .object(["at": .string(change.at), "actor": .string(change.actor.rawValue), "summary": .string(change.summary)])
        }
        context["changes"] = .list(changes)
        context["has_changes"] = .bool(!changes.isEmpty)
        context["notification_form_action"] = .string("/apps/\(app.name)/notifications")
        context["form_url"] = .string(form["url"] ?? "")
        if let secret = web.sessions.takeShownOnce(session.id, key: "notification:\(app.name)") { context["notification_secret"] = .string(secret) }
        let summaries = web.certificates.summaries(for: app.domains.map(\.value))
        // Uploaded certificates renew only by hand: warned about 14 days ahead, and once expired.
        let due = summaries.filter { $0.source == "uploaded" && ($0.status == .expiring || $0.status == .expired) }
        if !due.isEmpty {
            context["expiring_warning"] = .string("Renew soon: " + due.map { c in
                "the certificate of \(c.domain) " + (c.status == .expired ? "has expired" : "expires on")
                    + " \(Timestamp.format(Date(timeIntervalSince1970: Double(c.notAfter))))"
            }.joined(separator: "; ") + ". Upload a new one below.")
        }
        let certificates = summaries.map { c -> TemplateValue in
            .object(["domain": .string(c.domain), "status": .string(c.status.rawValue), "issuer": .string(c.issuer),
                     "not_after": .string(Timestamp.format(Date(timeIntervalSince1970: Double(c.notAfter)))),
                     "app_name": .string(app.name)])
        }
        context["certificates"] = .list(certificates)
        context["has_certificates"] = .bool(!certificates.isEmpty)
        context["https_edge"] = .bool(web.config.httpsPort != nil)
        // The domains as typed when the form comes back with an error, so none is lost to a typo.
        let stored = app.domains.map(\.value).joined(separator: "\n")
        context["domains_text"] = .string(error == nil ? stored : form["domains"] ?? stored)
        let volumes = DeployForm.volumesText(app.volumes)
        context["volumes_text"] = .string(error == nil ? volumes : form["volumes"] ?? volumes)
        if let error {
            context["errors"] = .object([error.field: .string(error.message)])
            context["has_errors"] = true
        }
        return try web.page("app", context, session: session, title: app.name, status: error == nil ? 200 : 400)
    }

    /// The page shows the newest 50 of the ring's 200; the API has them all.
    static let shownRequests = 50

    private static func requestRow(_ r: AccessRecord) -> TemplateValue {
        .object([
            "time": .string(Timestamp.format(r.time)), "method": .string(r.method), "path": .string(r.path),
            "status": .string(String(r.status)), "bytes": .string(String(r.bytesSent)),
            "duration": .string(String(r.durationMicroseconds / 1000) + "." + String(r.durationMicroseconds % 1000 / 100) + " ms"),
            "deployment_id": .string(r.deploymentID.map(String.init) ?? ""), "request_id": .string(r.requestID),
        ])
    }

    /// "15 requests since the server started: 2xx 12, 3xx 1, 4xx 2; 88.0 KiB out, 2.0 KiB in; 0 upstream errors."
    static func trafficSummary(_ c: AccessCounters.Snapshot) -> String {
        guard c.totalRequests > 0 else { return "No requests through the HTTP edge since the server started." }
        let classes = StatusClass.allCases.compactMap { cls in (c.requests[cls] ?? 0) > 0 ? "\(cls.rawValue) \(c.requests[cls]!)" : nil }
        return "\(c.totalRequests) requests since the server started: \(classes.joined(separator: ", ")); "
            + "\(c.bytesOut) bytes out, \(c.bytesIn) bytes in; \(c.upstreamErrors) upstream errors."
    }

    /// The newest ten deliveries: the stored ones, and by time among them those refused for
    /// their signature or headers, which are only kept in memory.
    private static func latestDeliveries(_ web: WebContext, app: App) throws -> [TemplateValue] {
        typealias Row = (time: String, event: String?, id: String?, result: DeliveryResult, deploymentID: Int?)
        var rows: [Row] = try web.store.deliveries(appID: app.id, limit: 10).map { ($0.createdAt, $0.event, $0.deliveryID, $0.result, $0.deploymentID) }
        for sample in web.rejectedDeliveries.samples(appID: app.id) {
            rows.append((sample.time, sample.event, sample.deliveryID, .rejected(sample.reason), nil))
        }
        let newest = rows.enumerated().sorted { a, b in
            a.element.time != b.element.time ? a.element.time > b.element.time : a.offset < b.offset
        }.prefix(10)
        return newest.map { entry -> TemplateValue in
            let d = entry.element
            let fields: [String: TemplateValue] = [
                "time": .string(d.time), "event": .string(d.event ?? ""), "delivery_id": .string(d.id ?? ""),
                "result": .string(d.result.text), "deployment_id": .string(d.deploymentID.map(String.init) ?? ""),
            ]
            return .object(fields)
        }
    }
}
