import FoundationEssentials
import SlipwaySystem
import Synchronization

/// Deliveries refused because their signature was missing or wrong: counted in memory, never
/// written to the database.
///
/// Anyone can send one. Written to SQLite one by one (with a prune that scanned the app's
/// history), 150,000 of them ran at 7/s with a p99 of 2 s and stalled every other write. Here
/// each costs a lock and a few integer updates: a count per app, the newest few as a sample to
/// show, and a budget per client (its IPv4 address or IPv6 /64, `ClientKey`) that says when to
/// answer 429 instead of 401. The signature is still checked for every request, so a delivery
/// with a valid one is never refused, whoever shares its address.
final class RejectedDeliveries: Sendable {
    /// One refused delivery, as the dashboard and the API show it.
    struct Sample: Sendable, Equatable {
        var time: String
        var client: String
        var reason: String
        var deliveryID: String?
        var event: String?
    }

    struct Summary: Sendable, Equatable {
        var count: Int
        var latest: Sample?
    }

    /// A refusal the client has the budget for (401), or one past it (429, retry after the seconds given).
    enum Verdict: Equatable {
        case refused
        case throttled(retryAfterSeconds: Int)
    }

    /// Refusals a client may cause per window before it is answered 429. A misconfigured secret
    /// on GitHub's side makes a few a minute; a flood makes thousands.
    let allowance: Int
    let windowSeconds: Int
    /// Clients tracked at once: the memory an attacker with many addresses can make us spend.
    let maximumClients: Int
    static let samplesPerApp = 20
    /// Header values kept in a sample are cut to this: they come from anyone.
    static let maximumFieldBytes = 100

    private struct PerApp {
        var count = 0
        var samples: [Sample] = []
    }

    private struct Budget {
        var windowStart: Int
        var used: Int
    }

    private struct State {
        var apps: [Int: PerApp] = [:]
        var clients: [String: Budget] = [:]
    }

    private let state = Mutex(State())

    init(allowance: Int = 30, windowSeconds: Int = 60, maximumClients: Int = 4096) {
        self.allowance = allowance
        self.windowSeconds = windowSeconds
        self.maximumClients = maximumClients
    }

    /// Counts a refusal for `appID` from `address`. A client within its budget is sampled (and
    /// the first refusal of its window logged); one past it is only counted.
    func record(appID: Int, appName: String, address: String, reason: String, deliveryID: String?, event: String?,
                now: Int = monotonicMilliseconds() / 1000) -> Verdict {
        let client = ClientKey.of(address)
        let (verdict, first) = state.withLock { s -> (Verdict, Bool) in
            s.apps[appID, default: PerApp()].count += 1
            var budget = s.clients[client] ?? Budget(windowStart: now, used: 0)
            if now - budget.windowStart >= windowSeconds { budget = Budget(windowStart: now, used: 0) }
            budget.used += 1
            if s.clients[client] == nil && s.clients.count >= maximumClients { evict(&s.clients, now: now) }
            s.clients[client] = budget
            guard budget.used <= allowance else {
                return (.throttled(retryAfterSeconds: max(1, budget.windowStart + windowSeconds - now)), false)
            }
            let sample = Sample(time: Timestamp.now(), client: client, reason: reason,
                                deliveryID: deliveryID.map(Self.cut), event: event.map(Self.cut))
            var app = s.apps[appID]!
            app.samples.append(sample)
            if app.samples.count > Self.samplesPerApp { app.samples.removeFirst(app.samples.count - Self.samplesPerApp) }
            s.apps[appID] = app
            return (.refused, budget.used == 1)
        }
        if first { Log.warning("app \(appName): refused a webhook delivery from \(client): \(reason)") }
        return verdict
    }

    func summary(appID: Int) -> Summary {
        state.withLock { s in
            let app = s.apps[appID]
            return Summary(count: app?.count ?? 0, latest: app?.samples.last)
        }
    }

    /// The sample, newest first.
    func samples(appID: Int) -> [Sample] {
        state.withLock { $0.apps[appID]?.samples.reversed() ?? [] }
    }

    func forget(appID: Int) {
        _ = state.withLock { $0.apps.removeValue(forKey: appID) }
    }

    /// Makes room for a new client: first every client whose window has ended, and if that is
    /// not enough, half of the rest. Each eviction frees at least half the table, so the work is
    /// O(1) per refusal on average.
    private func evict(_ clients: inout [String: Budget], now: Int) {
        clients = clients.filter { now - $0.value.windowStart < windowSeconds }
        if clients.count >= maximumClients {
            let kept = clients.sorted { $0.value.windowStart > $1.value.windowStart }.prefix(maximumClients / 2)
            clients = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
        }
    }

    private static func cut(_ text: String) -> String {
        guard text.utf8.count > maximumFieldBytes else { return text }
        return String(decoding: text.utf8.prefix(maximumFieldBytes), as: UTF8.self)
    }
}
