extension Store {
    /// The app's volumes, in the order the user gave them.
    public func volumes(appID: Int) throws -> [AppVolume] {
        try database.read { try Self.volumes(appID: appID, $0) }
    }

    /// Replaces the app's list of volumes. A volume left out is only detached from the app's
    /// next containers: its Docker volume and data stay.
    public func replaceVolumes(of app: App, with volumes: [AppVolume]) throws {
        try database.write { conn in
            guard try conn.queryOne("SELECT 1 FROM apps WHERE id = ?", app.id) != nil else { throw StoreError.appGone(app.name) }
            try conn.execute("DELETE FROM volumes WHERE app_id = ?", app.id)
            try Self.insertVolumes(volumes, appID: app.id, conn)
        }
    }

    static func volumes(appID: Int, _ conn: Connection) throws -> [AppVolume] {
        try conn.query("SELECT name, path FROM volumes WHERE app_id = ? ORDER BY position", appID).map { AppVolume(name: $0.string(0), path: $0.string(1)) }
    }

    /// Inside a write transaction; the list is checked already (`AppValidation.volumes`).
    static func insertVolumes(_ volumes: [AppVolume], appID: Int, _ conn: Connection) throws {
        for (position, volume) in volumes.enumerated() {
            try conn.execute("INSERT INTO volumes (app_id, name, path, position) VALUES (?, ?, ?, ?)", appID, volume.name, volume.path, position)
        }
    }
}
