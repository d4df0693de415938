import Synchronization

/// One lock per app, held while its containers are changed outside a deployment: stop, start,
/// restart, delete, and the supervisor's repairs.
///
/// Without it the supervisor could read an app, see its container gone because a delete had just
/// removed it, and re-create the container before the delete removed the app's row.
final class AppLocks: Sendable {
    /// A class, so a caller keeps the lock it took even after `forget` drops it from the table.
    private final class Lock: Sendable {
        let mutex = Mutex(())
    }

    private let locks = Mutex<[Int: Lock]>([:])
    private let changes = Atomic<Int>(0)

    /// Counts finished changes, so that the supervisor knows when a container listing it took is stale.
    var generation: Int { changes.load(ordering: .acquiring) }

    /// `changes: false` for callers that only repair what they see, and whose listing stays valid.
    func withLock<T>(appID: Int, changes: Bool = true, _ body: () throws -> T) rethrows -> T {
        let lock = locks.withLock { all in
            if let lock = all[appID] { return lock }
            let lock = Lock()
            all[appID] = lock
            return lock
        }
        return try lock.mutex.withLock { _ in
            defer { if changes { self.changes.add(1, ordering: .releasing) } }
            return try body()
        }
    }

    /// Drops the lock of a deleted app; called while holding it, so later callers make a new one
    /// and then find the app gone.
    func forget(appID: Int) {
        _ = locks.withLock { $0.removeValue(forKey: appID) }
    }
}
