import FoundationEssentials
import Synchronization

/// Failed logins per client address: the sixth within a minute is refused with 429 before the
/// password is even checked.
final class LoginThrottle: Sendable {
    let limit: Int
    let window: TimeInterval
    private let failures = Mutex<[String: [Date]]>([:])

    init(limit: Int = 5, window: TimeInterval = 60) {
        self.limit = limit
        self.window = window
    }

    /// Seconds until another attempt is allowed, or nil when one is allowed now.
    func retryAfter(_ address: String) -> Int? {
        let now = Date()
        return failures.withLock { all -> Int? in
            let recent = (all[address] ?? []).filter { now.timeIntervalSince($0) < window }
            all[address] = recent.isEmpty ? nil : recent
            guard recent.count >= limit, let oldest = recent.first else { return nil }
            return max(1, Int((window - now.timeIntervalSince(oldest)).rounded(.up)))
        }
    }

    func recordFailure(_ address: String) {
        failures.withLock { $0[address, default: []].append(Date()) }
    }

    func reset(_ address: String) { _ = failures.withLock { $0.removeValue(forKey: address) } }
}
