import Synchronization

/// Memory for request bodies in flight, shared by every connection of a server
/// (`--max-body-memory`). A body is read only once its bytes are reserved here; when they cannot
/// be, the request is answered 503 and its body never read. Without it, 1,024 connections each
/// sending a 25 MiB webhook body could ask for 25 GiB.
final class BodyMemoryBudget: Sendable {
    let capacity: Int
    private let used = Atomic<Int>(0)

    init(capacity: Int) {
        self.capacity = capacity
    }

    var inUse: Int { used.load(ordering: .relaxed) }

    /// Takes `bytes` if they fit; false (taking nothing) when they do not.
    func reserve(_ bytes: Int) -> Bool {
        guard bytes > 0 else { return true }
        var current = used.load(ordering: .relaxed)
        while true {
            guard current + bytes <= capacity else { return false }
            let (exchanged, original) = used.compareExchange(expected: current, desired: current + bytes, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
    }

    func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        used.subtract(bytes, ordering: .acquiringAndReleasing)
    }
}
