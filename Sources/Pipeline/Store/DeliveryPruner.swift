import Glibc
import SlipwaySystem
import Synchronization

/// Keeps each app's webhook history to its newest `keep` deliveries that started no deployment
/// (pings, ignored pushes, duplicates, refused payloads); those tied to a deployment stay with it.
///
/// Deliveries arrive at thousands a second under load, and without this the table grew by
/// 150,000 rows in 20 s. Pruning runs on a thread of its own, never on a request, once an app has
/// gained `keep / 10` (at least 50) rows since it was last pruned, and deletes in batches of
/// `batchSize` by the (app_id, id) index, each batch its own short write transaction, so
/// webhook deliveries and other writes wait for at most one batch.
public final class DeliveryPruner: Sendable {
    public let keep: Int
    static let batchSize = 500

    private struct State {
        /// Rows inserted per app since its last prune.
        var added: [Int: Int] = [:]
        /// Apps due a prune, in the order they became due.
        var due: [Int] = []
        var stopped = false
    }

    private let database: Database
    private let state = Mutex(State())
    private let wake: EventSignal
    private let rowsDeleted = Atomic<Int>(0)
    private let started = Atomic<Bool>(false)

    init(database: Database, keep: Int) throws(IOError) {
        self.database = database
        self.keep = max(0, keep)
        wake = try EventSignal()
    }

    /// The thread starts with the first work, so a store that never prunes keeps no thread
    /// (and no reference to its database once it is closed).
    private func startIfNeeded() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if !OSThread.detach(name: "delivery-pruner", stackSize: 256 * 1024, { [self] in run() }) {
            Log.error("cannot start the delivery pruner's thread; webhook history is not pruned until the next start")
        }
    }

    /// Rows this pruner has deleted since it started.
    public var deleted: Int { rowsDeleted.load(ordering: .relaxed) }

    /// Rows the next prune of an app waits for: a tenth of what is kept, so the table holds at
    /// most 10 % more than `keep` per app between prunes.
    var threshold: Int { max(50, keep / 10) }

    /// Called after rows without a deployment were committed for these apps.
    func noteAdded(_ counts: [Int: Int]) {
        let signal = state.withLock { s -> Bool in
            var becameDue = false
            for (appID, count) in counts {
                let total = s.added[appID, default: 0] + count
                s.added[appID] = total
                if total >= threshold && total - count < threshold {
                    s.due.append(appID)
                    becameDue = true
                }
            }
            return becameDue
        }
        if signal {
            startIfNeeded()
            wake.signal()
        }
    }

    /// Prunes every app once (at start-up, so history grown by an earlier version shrinks too).
    public func pruneAll() {
        guard let ids = try? database.read({ try $0.query("SELECT id FROM apps").map { $0.int(0) } }) else { return }
        state.withLock { s in
            for id in ids where !s.due.contains(id) { s.due.append(id) }
        }
        startIfNeeded()
        wake.signal()
    }

    func stop() {
        state.withLock { $0.stopped = true }
        wake.signal()
    }

    private func run() {
        while true {
            let next = state.withLock { s -> (appID: Int?, stopped: Bool) in
                guard !s.due.isEmpty else { return (nil, s.stopped) }
                let appID = s.due.removeFirst()
                s.added[appID] = 0
                return (appID, s.stopped)
            }
            if next.stopped { return }
            guard let appID = next.appID else {
                wake.wait(timeoutMilliseconds: 60_000)
                continue
            }
            Log.attempt("pruning the webhook deliveries of app \(appID)") { try prune(appID: appID) }
        }
    }

    /// Deletes an app's deliveries without a deployment older than its newest `keep`; returns how many.
    @discardableResult
    func prune(appID: Int) throws -> Int {
        // The newest row beyond what is kept; nothing to do when there is none.
        guard let cutoff = try database.read({
            try $0.queryOne("SELECT id FROM webhook_deliveries WHERE app_id = ? AND deployment_id IS NULL ORDER BY id DESC LIMIT 1 OFFSET ?",
                            appID, keep)?.int(0)
        }) else { return 0 }
        var total = 0
        while true {
            let deleted = try database.write { conn -> Int in
                try conn.execute("""
                    DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries
                    WHERE app_id = ? AND deployment_id IS NULL AND id <= ? ORDER BY id LIMIT ?)
                    """, appID, cutoff, Self.batchSize)
                return conn.changes
            }
            total += deleted
            rowsDeleted.add(deleted, ordering: .relaxed)
            if deleted < Self.batchSize { return total }
        }
    }
}
