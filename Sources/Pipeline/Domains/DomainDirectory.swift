import SlipwaySystem
import Synchronization

/// The current host-name table, app domains to app ids, for the HTTP edge to route by.
///
/// The edge looks a name up on every request through `resolve(host:)`: one short, uncontended
/// lock around a copy of the table (a reference count, not the dictionaries). `version` moves
/// with each publication, which is how the tests see that a change republished the table.
/// `AppService` rebuilds the table from the store when it starts and after every create, domain
/// change and delete.
public final class DomainDirectory: Sendable {
    /// One table and the version it was published as.
    public struct Snapshot: Sendable {
        public let version: Int
        public let table: DomainTable<Int>
    }

    private let current: Mutex<Snapshot>
    private let published = Atomic<Int>(0)
    /// Held from the store read to the publication: without it, a rebuild that read before a
    /// second change committed could publish after that change's own rebuild, and the edge would
    /// keep the older table until the next change.
    private let rebuilding = Mutex(())

    public init() {
        current = Mutex(Snapshot(version: 0, table: DomainTable([])))
    }

    /// Moves whenever a new table is published; compare it with the snapshot's to know whether
    /// to take a new one.
    public var version: Int { published.load(ordering: .acquiring) }

    public var snapshot: Snapshot { current.withLock { $0 } }

    public var table: DomainTable<Int> { snapshot.table }

    /// The app id for a Host header's value, in the current table.
    public func resolve(host: String) -> Int? { table.resolve(host: host) }

    /// Reads every app's domains and publishes them as the new table.
    public func rebuild(from store: Store) throws {
        try rebuilding.withLock { _ in
            publish(try store.domainTable())
        }
    }

    /// Publishes `table`: the snapshot first, then the version, so a reader that sees the new
    /// version always finds a snapshot at least that new.
    func publish(_ table: DomainTable<Int>) {
        let version = current.withLock { snapshot in
            snapshot = Snapshot(version: snapshot.version + 1, table: table)
            return snapshot.version
        }
        published.store(version, ordering: .releasing)
    }
}
