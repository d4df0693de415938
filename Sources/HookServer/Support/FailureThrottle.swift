import SlipwaySystem
import Synchronization

/// Failed attempts at a secret (the admin password, the API token), counted per client
/// (`ClientKey`: an IPv4 address, or an IPv6 /64): once a client has `limit` failures within
/// `window` of its first, it is refused, unchecked, for the rest of that window.
///
/// An attempt is reserved in the same locked step that checks the limit, before its secret is
/// checked: checking first and recording the failure afterwards let any number of concurrent
/// attempts pass the check before the first of them had failed. A reservation counts as a
/// failure unless the caller releases it.
///
/// Memory is bounded for a client with many addresses: at most `capacity` clients are tracked,
/// expired ones are dropped in the order their windows started, and a full table forgets its
/// oldest client. Every call is O(1), amortized.
final class FailureThrottle: Sendable {
    enum Admission: Sendable, Equatable {
        /// Check the secret; the attempt counts as a failure until released.
        case admitted(Reservation)
        /// Over the limit: seconds until the client's window ends.
        case refused(retryAfter: Int)
    }

    /// One admitted attempt, for `release` and `forgive`.
    struct Reservation: Sendable, Equatable {
        fileprivate let key: String
        fileprivate let window: UInt64
    }

    let limit: Int
    let windowMilliseconds: Int
    let capacity: Int
    private let now: @Sendable () -> Int
    private let table = Mutex(Table())

    /// Five failures a minute (the dashboard's limit from the start) stops guessing yet lets a
    /// person who mistyped try again soon. 10,000 clients of about 100 bytes each keep the table
    /// near 1 MB.
    init(limit: Int = 5, windowSeconds: Int = 60, capacity: Int = 10_000,
         now: @escaping @Sendable () -> Int = monotonicMilliseconds) {
        precondition(limit > 0 && windowSeconds > 0 && capacity > 0)
        self.limit = limit
        self.windowMilliseconds = windowSeconds * 1000
        self.capacity = capacity
        self.now = now
    }

    /// Reserves an attempt for the client at `address` (as `Socket` writes it), or says how long
    /// it must wait.
    func reserve(from address: String) -> Admission {
        let key = ClientKey.of(address)
        let time = now()
        return table.withLock { table -> Admission in
            table.expire(at: time, window: windowMilliseconds)
            if var entry = table.entries[key] {
                guard entry.count < limit else {
                    let left = entry.started + windowMilliseconds - time
                    return .refused(retryAfter: max(1, (left + 999) / 1000))
                }
                entry.count += 1
                table.entries[key] = entry
                return .admitted(Reservation(key: key, window: entry.window))
            }
            if table.entries.count >= capacity { table.evictOldest() }
            return .admitted(Reservation(key: key, window: table.start(key, at: time)))
        }
    }

    /// The attempt succeeded, or was never checked: it no longer counts. Earlier failures still
    /// do, so a client that shares an address with a guesser cannot refill the guesser's budget.
    func release(_ reservation: Reservation) {
        table.withLock { table in
            guard var entry = table.entries[reservation.key], entry.window == reservation.window else { return }
            entry.count = max(0, entry.count - 1)
            table.entries[reservation.key] = entry
        }
    }

    /// The client proved it knows the secret: all its failures in this window are forgiven.
    func forgive(_ reservation: Reservation) {
        table.withLock { table in
            guard var entry = table.entries[reservation.key], entry.window == reservation.window else { return }
            entry.count = 0
            table.entries[reservation.key] = entry
        }
    }

    /// Clients tracked now, for tests of the bound.
    var trackedClients: Int { table.withLock { $0.entries.count } }

    /// The clients, and the order their windows started in. An entry stays until its window
    /// ends (even at a count of 0), so each key is in `order` exactly once and the head of
    /// `order` is always the next to expire.
    private struct Table {
        struct Entry {
            let window: UInt64
            let started: Int
            var count: Int
        }

        var entries: [String: Entry] = [:]
        var order: [String] = []
        var head = 0
        var windows: UInt64 = 0

        mutating func start(_ key: String, at time: Int) -> UInt64 {
            windows += 1
            entries[key] = Entry(window: windows, started: time, count: 1)
            order.append(key)
            return windows
        }

        mutating func expire(at time: Int, window: Int) {
            while head < order.count {
                if let entry = entries[order[head]], time - entry.started < window { break }
                entries[order[head]] = nil
                head += 1
            }
            compact()
        }

        mutating func evictOldest() {
            guard head < order.count else { return }
            entries[order[head]] = nil
            head += 1
            compact()
        }

        /// Drops the consumed front of `order` once it is half the array: amortized O(1).
        private mutating func compact() {
            if head > 0 && head * 2 >= order.count {
                order.removeFirst(head)
                head = 0
            }
        }
    }
}
