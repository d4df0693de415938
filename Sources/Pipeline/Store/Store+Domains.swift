import SlipwaySystem

/// A domain and the app that has it: one entry of what the HTTP edge routes by.
public struct AppDomain: Sendable, Equatable {
    public var name: DomainName
    public var appID: Int
    public var appName: String
}

extension Store {
    /// The app's domains, in the order the user gave them.
    public func domains(appID: Int) throws -> [DomainName] {
        try database.read { try Self.domains(appID: appID, $0) }
    }

    /// Replaces the app's domains with `domains`, in one transaction: a name another app has
    /// fails with `StoreError.domainTaken` naming that app, and the app keeps the ones it had.
    public func replaceDomains(of app: App, with domains: [DomainName]) throws {
        try database.write { conn in
            guard try conn.queryOne("SELECT 1 FROM apps WHERE id = ?", app.id) != nil else { throw StoreError.appGone(app.name) }
            try conn.execute("DELETE FROM domains WHERE app_id = ?", app.id)
            try Self.insertDomains(domains, appID: app.id, conn)
        }
    }

    /// Every app's domains, by name: the table the edge routes by (`DomainTable`).
    public func allDomains() throws -> [AppDomain] {
        try database.read { conn in
            try conn.query("SELECT domains.name, apps.id, apps.name FROM domains JOIN apps ON apps.id = domains.app_id ORDER BY domains.name")
                .map { AppDomain(name: DomainName(stored: $0.string(0)), appID: $0.int(1), appName: $0.string(2)) }
        }
    }

    /// Every app's domains as the edge looks them up, to app ids.
    public func domainTable() throws -> DomainTable<Int> {
        DomainTable(try allDomains().map { ($0.name.value, $0.appID) })
    }

    static func domains(appID: Int, _ conn: Connection) throws -> [DomainName] {
        try conn.query("SELECT name FROM domains WHERE app_id = ? ORDER BY position", appID).map { DomainName(stored: $0.string(0)) }
    }

    /// Inside a write transaction. The owner is looked up first so the error can name it; writes
    /// are serialized, so no other app can take the name between the look and the insert.
    static func insertDomains(_ domains: [DomainName], appID: Int, _ conn: Connection) throws {
        for (position, domain) in domains.enumerated() {
            if let owner = try conn.queryOne("""
                SELECT apps.name FROM domains JOIN apps ON apps.id = domains.app_id WHERE domains.name = ? AND domains.app_id <> ?
                """, domain.value, appID) {
                throw StoreError.domainTaken(domain.value, app: owner.string(0))
            }
            try conn.execute("INSERT INTO domains (name, app_id, position) VALUES (?, ?, ?)", domain.value, appID, position)
        }
    }
}
