import Synchronization

/// The newest requests of one app, for the app page and `GET /api/apps/{name}/requests`.
///
/// A fixed array written round and round: appending is one store under the lock and never
/// allocates after the first lap, so the edge's request path pays the same for the millionth
/// request as for the first, and memory stays at `capacity` records whatever the traffic.
public final class AccessRing: Sendable {
    public let capacity: Int

    private struct Storage {
        var slots: [AccessRecord?]
        /// Where the next record goes.
        var next = 0
        var count = 0
    }

    private let storage: Mutex<Storage>

    /// 200 by default: about what the app page can show and a person can scan, and at most
    /// ~1.3 KiB a record (`AccessText`'s bounds), so ~260 KiB for an app at the limit.
    public init(capacity: Int = 200) {
        precondition(capacity > 0, "an access ring needs room for one record")
        self.capacity = capacity
        storage = Mutex(Storage(slots: Array(repeating: nil, count: capacity)))
    }

    public func append(_ record: AccessRecord) {
        storage.withLock { s in
            s.slots[s.next] = record
            s.next = s.next + 1 == s.slots.count ? 0 : s.next + 1
            s.count = min(s.count + 1, s.slots.count)
        }
    }

    /// The records held, newest first.
    public func snapshot() -> [AccessRecord] {
        storage.withLock { s in
            var out: [AccessRecord] = []
            out.reserveCapacity(s.count)
            var index = s.next
            for _ in 0..<s.count {
                index = index == 0 ? s.slots.count - 1 : index - 1
                if let record = s.slots[index] { out.append(record) }
            }
            return out
        }
    }

    public var count: Int { storage.withLock { $0.count } }
}
