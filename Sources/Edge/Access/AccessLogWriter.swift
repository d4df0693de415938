import Glibc
import SlipwaySystem
import Synchronization

/// The one thread that writes every app's access log file. An OS thread of its own, not the
/// Swift concurrency pool: a write can block for as long as the disk takes, and the pool's few
/// threads serve everything else.
///
/// Files ask for it when their queue stops being empty; it takes the set of such files and
/// flushes each, then waits `batchMilliseconds` before it looks again, so under load one wake-up
/// writes many lines per file. Without the wait every request woke it: an eventfd write on the
/// request path, then a read, a poll and a write(2) here, about three system calls and two
/// context switches per request (the edge's keep-alive benchmark, strace -c). nginx's
/// `access_log ... buffer=64k flush=1s` batches the same way.
public final class AccessLogWriter: Sendable {
    /// How long lines gather after a flush before the next: a line reaches the file within
    /// about this, and at 20,000 requests/s a batch is 2,000 lines, well under a file's queue
    /// limit (`AccessLogFile.Limits.maximumPendingLines`).
    static let batchMilliseconds = 100

    private struct State {
        var waiting: [ObjectIdentifier: AccessLogFile] = [:]
        var started = false
        var stopping = false
    }

    private let state = Mutex(State())
    private let wake: EventSignal
    private let ended: EventSignal
    private let running = Atomic<Bool>(false)

    public init() throws(IOError) {
        wake = try EventSignal()
        ended = try EventSignal()
    }

    /// Flushes `file` soon, starting the thread at first use (a server without the edge keeps
    /// no thread for it).
    public func schedule(_ file: AccessLogFile) {
        let (first, start) = state.withLock { s -> (Bool, Bool) in
            guard !s.stopping else { return (false, false) }
            let first = s.waiting.updateValue(file, forKey: ObjectIdentifier(file)) == nil
            let start = !s.started
            s.started = true
            return (first, start)
        }
        if start {
            running.store(true, ordering: .releasing)
            // 256 KiB: the loop formats lines and calls write, it needs no more stack.
            guard OSThread.detach(name: "access-log", stackSize: 256 * 1024, { [self] in run() }) else {
                running.store(false, ordering: .releasing)
                state.withLock { $0.started = false }
                Log.error("access log: no thread for the writer; lines stay queued until one starts")
                return
            }
        }
        if first { wake.signal() }
    }

    /// Writes what is queued and ends the thread; waits for it up to 10 s.
    public func stop() {
        state.withLock { $0.stopping = true }
        wake.signal()
        if running.load(ordering: .acquiring) { ended.wait(timeoutMilliseconds: 10_000) }
    }

    private func run() {
        while true {
            let (files, stopping) = state.withLock { s -> ([AccessLogFile], Bool) in
                let files = Array(s.waiting.values)
                s.waiting = [:]
                return (files, s.stopping)
            }
            for file in files {
                do { try file.flush() } catch { Log.error("\(error)") }
            }
            if files.isEmpty {
                if stopping { break }
                wake.wait(timeoutMilliseconds: 60_000)
            } else if !stopping {
                // A sleep, not a wait on `wake`: lines queued meanwhile signal it at once (once
                // per file, as its queue stops being empty), and are written together after it.
                // A stop waits for it, 0.1 s at most.
                usleep(UInt32(Self.batchMilliseconds * 1000))
            }
        }
        running.store(false, ordering: .releasing)
        ended.signal()
    }
}
