import SlipwaySystem

extension Store {
    static let serverColumns = "id, name, ssh_user, ssh_host, ssh_port, address, state, last_error, host_key_fingerprint, engine_version, engine_api_version, engine_os, engine_arch, latency_ms, free_disk_bytes, checked_at, created_at"

    static func server(from row: Row) -> Server {
        let engine = row.optionalString(9).map { version in
            EngineFacts(serverVersion: version, apiVersion: row.string(10), os: row.string(11), architecture: row.string(12),
                        latencyMilliseconds: row.optionalInt(13) ?? 0, freeDiskBytes: row.optionalInt(14))
        }
        return Server(id: row.int(0), name: row.string(1),
                      destination: SSHDestination(user: row.string(2), host: row.string(3), port: row.int(4)),
                      address: row.string(5), state: ServerState(rawValue: row.string(6)) ?? .pending, lastError: row.optionalString(7),
                      hostKeyFingerprint: row.optionalString(8), engine: engine, checkedAt: row.optionalString(15), createdAt: row.string(16))
    }

    /// The stored servers (not the built-in `local`), by name.
    public func servers() throws -> [Server] {
        try database.read { try $0.query("SELECT \(Self.serverColumns) FROM servers ORDER BY name").map(Self.server) }
    }

    public func server(named name: String) throws -> Server? {
        try database.read { try $0.queryOne("SELECT \(Self.serverColumns) FROM servers WHERE name = ?", name).map(Self.server) }
    }

    /// Stores a new server as pending; `ServerError.nameTaken` if the name is.
    public func createServer(name: String, destination: SSHDestination, address: String) throws -> Server {
        do {
            return try database.write { conn in
                try conn.execute("INSERT INTO servers (name, ssh_user, ssh_host, ssh_port, address, state, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)",
                                 name, destination.user, destination.host, destination.port, address, Timestamp.now())
                return try conn.queryOne("SELECT \(Self.serverColumns) FROM servers WHERE id = ?", conn.lastInsertRowID).map(Self.server)!
            }
        } catch let error as SQLiteError where error.isUniqueViolation {
            throw ServerError.nameTaken(name)
        }
    }

    /// Saves what a connection attempt found.
    public func saveCheck(of server: Server) throws {
        try database.write { conn in
            try conn.execute("""
            UPDATE servers SET state = ?, last_error = ?, host_key_fingerprint = ?, engine_version = ?, engine_api_version = ?,
                engine_os = ?, engine_arch = ?, latency_ms = ?, free_disk_bytes = ?, checked_at = ? WHERE id = ?
            """, server.state.rawValue, server.lastError, server.hostKeyFingerprint, server.engine?.serverVersion, server.engine?.apiVersion,
                             server.engine?.os, server.engine?.architecture, server.engine?.latencyMilliseconds, server.engine?.freeDiskBytes,
                             server.checkedAt, server.id)
        }
    }

    public func deleteServer(id: Int) throws {
        try database.write { try $0.execute("DELETE FROM servers WHERE id = ?", id) }
    }

    /// The server of each app's live deployment (where its container runs), by app id.
    public func liveDeploymentServers() throws -> [Int: String] {
        try database.read { conn in
            var servers: [Int: String] = [:]
            for row in try conn.query("SELECT a.id, d.server FROM apps a JOIN deployments d ON d.id = a.live_deployment_id") {
                servers[row.int(0)] = row.string(1)
            }
            return servers
        }
    }

    /// The names of the apps on `server`, by name.
    public func appNames(onServer server: String) throws -> [String] {
        try database.read { try $0.query("SELECT name FROM apps WHERE server = ? ORDER BY name", server).map { $0.string(0) } }
    }
}
