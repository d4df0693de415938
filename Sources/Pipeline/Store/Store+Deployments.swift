import SlipwaySystem
extension Store {
    static let deploymentColumns = """
        d.id, d.app_id, a.name, d.status, d.trigger, d.ref, d.commit_sha, d.commit_message, d.commit_author, d.image,
        d.container_id, d.source_deployment_id, d.delivery_id, d.error, d.created_at, d.started_at, d.finished_at, d.steps, d.log_path, d.server
        """
    static let deploymentFrom = "FROM deployments d JOIN apps a ON a.id = d.app_id"

    static func deployment(from row: Row) -> Deployment {
        var d = Deployment(id: row.int(0), appID: row.int(1), appName: row.string(2),
                   status: DeploymentStatus(rawValue: row.string(3)) ?? .failed,
                   trigger: DeploymentTrigger(rawValue: row.string(4)) ?? .manual,
                   ref: row.optionalString(5), commitSHA: row.optionalString(6), commitMessage: row.optionalString(7),
                   commitAuthor: row.optionalString(8), image: row.optionalString(9), containerID: row.optionalString(10),
                   sourceDeploymentID: row.optionalInt(11), deliveryID: row.optionalString(12), error: row.optionalString(13),
                   createdAt: row.string(14), startedAt: row.optionalString(15), finishedAt: row.optionalString(16),
                   steps: decodeSteps(row.string(17)), logPath: row.optionalString(18))
        d.server = row.string(19)
        return d
    }

    /// Steps are stored as [["clone", 120], ["build", 3400]], keeping their order.
    static func encodeSteps(_ steps: [(name: String, milliseconds: Int)]) -> String {
        JSON.array(steps.map { .array([.string($0.name), .number(Double($0.milliseconds))]) }).serialized()
    }

    static func decodeSteps(_ text: String) -> [(name: String, milliseconds: Int)] {
        guard let array = (try? JSONParser.parse(text))?.arrayValue else { return [] }
        return array.compactMap { pair in
            guard let items = pair.arrayValue, items.count == 2, let name = items[0].stringValue, let ms = items[1].intValue else { return nil }
            return (name, ms)
        }
    }

    public func createDeployment(appID: Int, trigger: DeploymentTrigger, ref: String? = nil,
                                 sourceDeploymentID: Int? = nil, deliveryID: String? = nil,
                                 commitMessage: String? = nil, commitAuthor: String? = nil) throws -> Deployment {
        try database.write { conn in
            try conn.execute("""
                INSERT INTO deployments (app_id, status, trigger, ref, source_deployment_id, delivery_id, commit_message, commit_author, created_at)
                VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?)
                """, appID, trigger.rawValue, ref, sourceDeploymentID, deliveryID, commitMessage, commitAuthor, Timestamp.now())
            let id = conn.lastInsertRowID
            return try conn.queryOne("SELECT \(Self.deploymentColumns) \(Self.deploymentFrom) WHERE d.id = ?", id).map(Self.deployment)!
        }
    }

    public func deployment(id: Int) throws -> Deployment? {
        try database.read { try $0.queryOne("SELECT \(Self.deploymentColumns) \(Self.deploymentFrom) WHERE d.id = ?", id).map(Self.deployment) }
    }

    /// Newest first.
    public func deployments(appID: Int, limit: Int = 50) throws -> [Deployment] {
        try database.read {
            try $0.query("SELECT \(Self.deploymentColumns) \(Self.deploymentFrom) WHERE d.app_id = ? ORDER BY d.id DESC LIMIT ?", [appID, limit]).map(Self.deployment)
        }
    }

    public func unfinishedDeployments() throws -> [Deployment] {
        try database.read {
            try $0.query("SELECT \(Self.deploymentColumns) \(Self.deploymentFrom) WHERE d.status IN ('queued','cloning','building','starting','checking') ORDER BY d.id").map(Self.deployment)
        }
    }

    /// Saves the mutable fields of a deployment.
    public func save(_ d: Deployment) throws {
        try database.write {
            try $0.execute("""
                UPDATE deployments SET status = ?, ref = ?, commit_sha = ?, commit_message = ?, commit_author = ?, image = ?,
                container_id = ?, error = ?, started_at = ?, finished_at = ?, steps = ?, log_path = ?, server = ? WHERE id = ?
                """, d.status.rawValue, d.ref, d.commitSHA, d.commitMessage, d.commitAuthor, d.image, d.containerID,
                d.error, d.startedAt, d.finishedAt, Self.encodeSteps(d.steps), d.logPath, d.server, d.id)
        }
    }

    /// Records a deployment as the app's live one, in one transaction with its success.
    public func markLive(_ d: Deployment) throws {
        try database.write { conn in
            try conn.execute("UPDATE deployments SET status = ?, finished_at = ?, steps = ?, container_id = ?, image = ? WHERE id = ?",
                             d.status.rawValue, d.finishedAt, Self.encodeSteps(d.steps), d.containerID, d.image, d.id)
            try conn.execute("UPDATE apps SET live_deployment_id = ?, status = 'running' WHERE id = ?", d.id, d.appID)
        }
    }
}
