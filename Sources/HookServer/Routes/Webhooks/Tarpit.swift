import SlipwayHTTP
import SlipwaySystem
import Synchronization

/// Holds back the answers to clients past their budget of refused deliveries, so a flood slows
/// down to what its connections can send one answer at a time.
///
/// Answering a flood of bad signatures at once let 50 connections send 17,800 a second, and
/// each still costs a body, an HMAC and an answer (benchmark 8: valid deliveries beside it
/// waited 2.6 times as long). Held back `delay` each, 50 connections send at most 100 a second.
/// A held answer is a `DeferredResponse`, so its connection waits without a worker, as nginx's
/// limit_req delays requests; nothing grows but one entry per waiting connection.
final class Tarpit: Sendable {
    let delayMilliseconds: Int

    private struct Held {
        var due: Int
        var response: DeferredResponse
        var make: DeferredResponse.Maker
    }

    // Every answer waits the same delay, so the queue is in due order as it is appended to.
    private let queue = Mutex<[Held]>([])
    private let wake: EventSignal
    private let started = Atomic<Bool>(false)

    init(delayMilliseconds: Int = 500) throws(IOError) {
        self.delayMilliseconds = delayMilliseconds
        wake = try EventSignal()
    }

    /// The answer `make` gives, `delayMilliseconds` from now.
    func hold(_ make: @escaping DeferredResponse.Maker) -> HTTPResponse {
        let deferred = DeferredResponse()
        guard startIfNeeded() else {
            deferred.fulfil(make)
            return .deferred(deferred)
        }
        let wasEmpty = queue.withLock { held in
            held.append(Held(due: monotonicMilliseconds() + delayMilliseconds, response: deferred, make: make))
            return held.count == 1
        }
        if wasEmpty { wake.signal() }
        return .deferred(deferred)
    }

    /// Started with the first held answer; false (answer at once) if no thread could start.
    private func startIfNeeded() -> Bool {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return true }
        if OSThread.detach(name: "tarpit", stackSize: 256 * 1024, { [self] in run() }) { return true }
        started.store(false, ordering: .releasing)
        return false
    }

    private func run() {
        while true {
            let now = monotonicMilliseconds()
            let (due, next) = queue.withLock { held -> ([Held], Int?) in
                let count = held.prefix { $0.due <= now }.count
                let due = Array(held.prefix(count))
                held.removeFirst(count)
                return (due, held.first?.due)
            }
            for entry in due { entry.response.fulfil(entry.make) }
            wake.wait(timeoutMilliseconds: next.map { max(1, $0 - monotonicMilliseconds()) } ?? 60_000)
        }
    }
}
