import Synchronization

/// At most `limit` holders at once, and no queue: a caller that finds the gate full is told so
/// at once, so it can answer 429 rather than park a thread behind the work.
final class ConcurrencyGate: Sendable {
    let limit: Int
    private let holders = Atomic<Int>(0)

    init(limit: Int) {
        precondition(limit > 0)
        self.limit = limit
    }

    /// Runs `body` holding a place, or returns nil without running it when the gate is full.
    func ifOpen<T>(_ body: () throws -> T) rethrows -> T? {
        guard enter() else { return nil }
        defer { holders.subtract(1, ordering: .releasing) }
        return try body()
    }

    private func enter() -> Bool {
        var current = holders.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = holders.compareExchange(expected: current, desired: current + 1,
                                                                ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Places taken now, for tests.
    var held: Int { holders.load(ordering: .relaxed) }
}
