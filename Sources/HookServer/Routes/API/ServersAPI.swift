import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// /api/servers: the built-in `local` and the servers Slipway reaches over SSH; adding one
/// (which answers with the public key to authorize there), connecting (which pins the host key
/// and checks the engine) and removing one without apps.
struct ServersAPI: Sendable {
    let servers: ServerDirectory
    let store: Store

    func list(_ request: HTTPRequest) throws -> HTTPResponse {
        var items = [Self.localJSON(apps: try store.appNames(onServer: Server.localName))]
        for server in try servers.servers() {
            items.append(Self.json(server, apps: try store.appNames(onServer: server.name)))
        }
        return .json(.array(items))
    }

    func show(_ request: HTTPRequest) throws -> HTTPResponse {
        let name = request.parameter("name")
        if name == Server.localName { return .json(Self.localJSON(apps: try store.appNames(onServer: name))) }
        let server = try servers.server(named: name)
        return .json(Self.json(server, apps: try store.appNames(onServer: name), publicKey: servers.publicKey(of: server)))
    }

    func add(_ request: HTTPRequest) throws -> HTTPResponse {
        var body = try JSONBody(request, allowEmpty: false)
        guard let name = try body.string("name") else { throw ValidationError("name", "name is required") }
        guard let ssh = try body.string("ssh") else { throw ValidationError("ssh", "ssh is required: user@host or user@host:port") }
        guard let address = try body.string("address") else {
            throw ValidationError("address", "address is required: the private address Slipway reaches the apps' ports on")
        }
        let privateKey = try body.string("private_key")
        try body.rejectUnknown()
        let added = try servers.add(name: name, ssh: ssh, address: address, privateKey: privateKey)
        var response = HTTPResponse.json(Self.json(added.server, apps: [], publicKey: added.publicKey), status: 201)
        response.headers.add("Cache-Control", "no-store")
        return response
    }

    func remove(_ request: HTTPRequest) throws -> HTTPResponse {
        try servers.remove(name: request.parameter("name"))
        return .noContent
    }

    /// 200 with the server when it is ready; 502 with what failed (and the server) when not.
    func connect(_ request: HTTPRequest) throws -> HTTPResponse {
        let name = request.parameter("name")
        let server = try servers.connect(name: name)
        let json = Self.json(server, apps: try store.appNames(onServer: name))
        guard server.state == .ready else {
            let code = server.state == .hostKeyChanged ? "host_key_changed" : "server_unreachable"
            return .json(.object([("error", .object([("code", .string(code)), ("message", .string(server.lastError ?? "not ready"))])),
                                  ("server", json)]), status: 502)
        }
        return .json(json)
    }

    static func localJSON(apps: [String]) -> JSON {
        .object([("name", .string(Server.localName)), ("builtin", .bool(true)), ("state", .string(ServerState.ready.rawValue)),
                 ("apps", .array(apps.map(JSON.string)))])
    }

    static func json(_ server: Server, apps: [String], publicKey: String? = nil) -> JSON {
        var fields: [(String, JSON)] = [
            ("name", .string(server.name)), ("builtin", .bool(false)), ("ssh", .string(server.destination.description)),
            ("address", .string(server.address)), ("state", .string(server.state.rawValue)),
            ("error", server.lastError.map(JSON.string) ?? .null),
            ("host_key", server.hostKeyFingerprint.map(JSON.string) ?? .null),
            ("engine", server.engine.map { engine in
                .object([("version", .string(engine.serverVersion)), ("api_version", .string(engine.apiVersion)),
                         ("os", .string(engine.os)), ("arch", .string(engine.architecture)),
                         ("latency_ms", .number(Double(engine.latencyMilliseconds))),
                         ("free_disk_bytes", engine.freeDiskBytes.map { .number(Double($0)) } ?? .null)])
            } ?? .null),
            ("checked_at", server.checkedAt.map(JSON.string) ?? .null), ("created_at", .string(server.createdAt)),
            ("apps", .array(apps.map(JSON.string))),
        ]
        if let publicKey { fields.append(("public_key", .string(publicKey))) }
        return .object(fields)
    }
}

extension Router {
    mutating func addServerRoutes(_ api: APIContext, servers: ServerDirectory) {
        let handlers = ServersAPI(servers: servers, store: api.store)
        get("/api/servers", api.authenticated(handlers.list))
        post("/api/servers", api.authenticated(handlers.add))
        get("/api/servers/{name}", api.authenticated(handlers.show))
        delete("/api/servers/{name}", api.authenticated(handlers.remove))
        post("/api/servers/{name}/connect", api.authenticated(handlers.connect))
    }
}
