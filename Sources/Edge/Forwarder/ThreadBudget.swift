import Synchronization

/// A cap on threads of one kind. Anyone on the internet can open connections to an app's port,
/// so the threads a connection may cost (a 503 answer that lingers, a bulk transfer spliced on
/// a thread of its own) are taken from a budget, and a connection that finds it spent is served
/// without one.
final class ThreadBudget: Sendable {
    let limit: Int
    private let running = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    var inUse: Int { running.load(ordering: .relaxed) }
    var hasRoom: Bool { inUse < limit }

    /// Takes a thread's place; false when all are taken.
    func take() -> Bool {
        if running.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue > limit {
            running.wrappingSubtract(1, ordering: .acquiringAndReleasing)
            return false
        }
        return true
    }

    func give() {
        running.wrappingSubtract(1, ordering: .acquiringAndReleasing)
    }
}
