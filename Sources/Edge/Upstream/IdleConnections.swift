import Glibc
import SlipwaySystem

/// The HTTP edge's kept-alive connections to an app's containers that no request is using, by
/// the generation of the upstream they reach: each request takes one here before dialing, and
/// puts it back after a response that leaves it reusable.
///
/// Small and short-lived, as nginx's upstream `keepalive` pool is: at most `capacity` per
/// generation, and none older than `idleMilliseconds`, because app servers drop idle connections
/// on their own (Node's default keep-alive timeout is 5 s; 4 s here stays under it, so a request
/// rarely meets a connection the app is closing). A generation's connections are closed as soon
/// as it stops being the live one: no request can take them after the switch.
///
/// A plain value, kept under `LiveUpstream`'s lock.
struct IdleConnections {
    static let capacity = 8
    static let idleMilliseconds = 4_000

    private struct Entry {
        let fd: Int32
        let generation: Int
        let since: Int
    }

    private var entries: [Entry] = []

    var count: Int { entries.count }

    /// The most recently used connection to `generation` and how long it was idle, or nil. It
    /// may have been closed by the app in the meantime; the caller finds out on its first read
    /// and retries on a new one.
    mutating func take(generation: Int, now: Int) -> (fd: Int32, idleMilliseconds: Int)? {
        closeExpired(now: now)
        guard let index = entries.lastIndex(where: { $0.generation == generation }) else { return nil }
        let entry = entries.remove(at: index)
        return (entry.fd, now - entry.since)
    }

    /// Keeps `fd` for the next request to `generation`, or closes it when the pool is full.
    mutating func put(_ fd: Int32, generation: Int, now: Int) {
        closeExpired(now: now)
        guard entries.count(where: { $0.generation == generation }) < Self.capacity else {
            close(fd)
            return
        }
        entries.append(Entry(fd: fd, generation: generation, since: now))
    }

    /// Closes every connection that does not reach `generation` (nil: every connection).
    mutating func closeAll(except generation: Int?) {
        entries.removeAll { entry in
            guard entry.generation != generation else { return false }
            close(entry.fd)
            return true
        }
    }

    /// Closes the connections idle for `idleMilliseconds` or more.
    mutating func closeExpired(now: Int) {
        // Entries are kept in the order they were put, so the first is the oldest: most calls
        // (one per request) end here.
        guard let oldest = entries.first, now - oldest.since >= Self.idleMilliseconds else { return }
        entries.removeAll { entry in
            guard now - entry.since >= Self.idleMilliseconds else { return false }
            close(entry.fd)
            return true
        }
    }
}
