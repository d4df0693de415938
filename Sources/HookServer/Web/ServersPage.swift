import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// /servers: the built-in `local` and the servers reached over SSH, each with its state, pinned
/// host key, engine and apps; adding one (its public key is shown until it is connected),
/// connecting, and removing one without apps.
struct ServersPage: Sendable {
    let web: WebContext
    let servers: ServerDirectory

    func show(_ request: HTTPRequest) throws -> HTTPResponse {
        try render(web.requireSession(request), error: nil, form: [:])
    }

    func add(_ request: HTTPRequest) throws -> HTTPResponse {
        let (session, form) = try web.requireAction(request)
        do {
            let key = form["private_key"].flatMap { $0.trimmingWhitespaceAndNewlines().isEmpty ? nil : $0 }
            let added = try servers.add(name: form["name"] ?? "", ssh: form["ssh"] ?? "", address: form["address"] ?? "", privateKey: key)
            return .redirect("/servers#server-\(added.server.name)")
        } catch let error as ValidationError {
            return try render(session, error: error.message, form: form)
        } catch let error as ServerError {
            return try render(session, error: error.description, form: form)
        }
    }

    func connect(_ request: HTTPRequest) throws -> HTTPResponse {
        _ = try web.requireAction(request)
        // The outcome, a failure included, is saved on the server and shown in its row.
        let server = try servers.connect(name: request.parameter("name"))
        return .redirect("/servers#server-\(server.name)")
    }

    func delete(_ request: HTTPRequest) throws -> HTTPResponse {
        let (session, _) = try web.requireAction(request)
        do {
            try servers.remove(name: request.parameter("name"))
        } catch let error as ServerError {
            return try render(session, error: error.description, form: [:])
        }
        return .redirect("/servers")
    }

    private func render(_ session: Session, error: String?, form: [String: String]) throws -> HTTPResponse {
        var rows: [TemplateValue] = [.object(row(name: Server.localName, builtin: true, state: .ready,
                                                 apps: try web.store.appNames(onServer: Server.localName)))]
        for server in try servers.servers() {
            var fields = row(name: server.name, builtin: false, state: server.state, apps: try web.store.appNames(onServer: server.name))
            fields["ssh"] = .string(server.destination.description)
            fields["ssh_user"] = .string(server.destination.user)
            fields["address"] = .string(server.address)
            if let message = server.lastError { fields["error"] = .string(message) }
            if let fingerprint = server.hostKeyFingerprint { fields["host_key"] = .string(fingerprint) }
            if let engine = server.engine {
                fields["engine"] = .object(["version": .string(engine.serverVersion), "os": .string(engine.os), "arch": .string(engine.architecture),
                                            "latency": .string(String(engine.latencyMilliseconds)),
                                            "free_disk": engine.freeDiskBytes.map { .string(Self.size($0)) } ?? .bool(false)])
            }
            // Shown until a connection has succeeded: then it is authorized there.
            if server.state != .ready, let key = servers.publicKey(of: server) { fields["public_key"] = .string(key) }
            rows.append(.object(fields))
        }
        var context: [String: TemplateValue] = ["servers": .list(rows),
                                                "form": .object(["name": .string(form["name"] ?? ""), "ssh": .string(form["ssh"] ?? ""),
                                                                 "address": .string(form["address"] ?? "")])]
        if let error {
            context["has_errors"] = true
            context["error"] = .string(error)
        }
        return try web.page("servers", context, session: session, title: "Servers", status: error == nil ? 200 : 400)
    }

    /// "12.3 GiB", "512 MiB".
    static func size(_ bytes: Int) -> String {
        let gib = 1 << 30
        if bytes >= gib { return "\(bytes / gib).\((bytes % gib) * 10 / gib) GiB" }
        return "\(bytes >> 20) MiB"
    }

    private func row(name: String, builtin: Bool, state: ServerState, apps: [String]) -> [String: TemplateValue] {
        let stateClass: String
        switch state {
        case .ready: stateClass = "running"
        case .pending: stateClass = "new"
        case .unreachable, .hostKeyChanged: stateClass = "failed"
        }
        return ["name": .string(name), "builtin": .bool(builtin), "state": .string(state.rawValue), "state_class": .string(stateClass),
                "apps": .list(apps.map { .object(["name": .string($0)]) })]
    }
}

extension Router {
    mutating func addServerPages(_ web: WebContext, servers: ServerDirectory) {
        let page = ServersPage(web: web, servers: servers)
        let host = web.hostGuard
        get("/servers", host.wrap(page.show))
        post("/servers", host.wrap(page.add))
        post("/servers/{name}/connect", host.wrap(page.connect))
        post("/servers/{name}/delete", host.wrap(page.delete))
    }
}
