import Glibc
import SlipwaySystem
import Synchronization

/// Records webhook deliveries in batches: one transaction, and one WAL write, for all the
/// deliveries that arrived while the previous batch was committing (group commit).
///
/// Recorded one transaction each, a delivery cost about 110 µs of CPU (BEGIN, three b-tree
/// pages, COMMIT's WAL write and file locks), and the webhook route ran at half the rate it
/// reached without recording (benchmark 4). The caller's completion runs after its batch has
/// committed, so a delivery is still answered only once it is stored. Under load a batch grows
/// by itself: the longer a commit takes, the more deliveries wait for the next one.
public final class DeliveryRecorder: Sendable {
    /// One delivery to record once per delivery id.
    public struct Entry: Sendable {
        public var appID: Int
        public var deliveryID: String?
        public var event: String
        public var result: DeliveryResult

        public init(appID: Int, deliveryID: String?, event: String, result: DeliveryResult) {
            self.appID = appID
            self.deliveryID = deliveryID
            self.event = event
            self.result = result
        }
    }

    /// true: recorded; false: its delivery id was recorded before (a redelivery).
    public typealias Completion = @Sendable (Result<Bool, any Error>) -> Void

    private struct Pending {
        var entry: Entry
        var createdAt: String
        var completion: Completion
    }

    /// Most deliveries one transaction takes, so one huge burst cannot make a transaction huge.
    static let maximumBatch = 256

    private let database: Database
    private let pruner: DeliveryPruner?
    private let queue = PosixMutex<[Pending]>([])
    private let wake: EventSignal
    private let started = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let batches = Atomic<Int>(0)

    init(database: Database, pruner: DeliveryPruner? = nil) throws(IOError) {
        self.database = database
        self.pruner = pruner
        wake = try EventSignal()
    }

    /// Transactions committed so far.
    public var batchesCommitted: Int { batches.load(ordering: .relaxed) }

    /// Queues `entry`; `completion` runs on the recorder's thread once its batch has committed
    /// or failed. It must not block: hand real work on to another thread.
    public func record(_ entry: Entry, completion: @escaping Completion) {
        if !started.exchange(true, ordering: .acquiringAndReleasing) {
            // Started on first use: a store that never sees a webhook keeps no thread for it.
            guard OSThread.detach(name: "deliveries", stackSize: 256 * 1024, { [self] in run() }) else {
                started.store(false, ordering: .releasing)
                completion(.failure(IOError(function: "pthread_create", errno: EAGAIN)))
                return
            }
        }
        let wasEmpty = queue.withLock { pending in
            pending.append(Pending(entry: entry, createdAt: Timestamp.now(), completion: completion))
            return pending.count == 1
        }
        if wasEmpty { wake.signal() }
    }

    /// Ends the thread once the queue is empty.
    func stop() {
        stopped.store(true, ordering: .releasing)
        wake.signal()
    }

    private func run() {
        while true {
            let batch = queue.withLock { pending -> [Pending] in
                let count = min(pending.count, Self.maximumBatch)
                let batch = Array(pending.prefix(count))
                pending.removeFirst(count)
                return batch
            }
            if batch.isEmpty {
                if stopped.load(ordering: .acquiring) { return }
                wake.wait(timeoutMilliseconds: 60_000)
                continue
            }
            commit(batch)
        }
    }

    private func commit(_ batch: [Pending]) {
        let outcome: Result<[Bool], any Error> = Result {
            try database.write { conn in
                try batch.map { pending in
                    do {
                        try conn.execute(Store.insertDeliverySQL, pending.entry.deliveryID, pending.entry.appID,
                                         pending.entry.event, pending.entry.result.kind.rawValue, pending.entry.result.text,
                                         pending.createdAt)
                        return true
                    } catch let error as SQLiteError where error.isUniqueViolation {
                        // A delivery id seen before. Only this statement is undone; the rest of
                        // the batch commits.
                        return false
                    }
                }
            }
        }
        batches.add(1, ordering: .relaxed)
        switch outcome {
        case .success(let recorded):
            for (pending, isNew) in zip(batch, recorded) { pending.completion(.success(isNew)) }
            var added = [Int: Int]()
            for (pending, isNew) in zip(batch, recorded) where isNew { added[pending.entry.appID, default: 0] += 1 }
            pruner?.noteAdded(added)
        case .failure(let error):
            for pending in batch { pending.completion(.failure(error)) }
        }
    }
}
