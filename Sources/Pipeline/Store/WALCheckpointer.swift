import CSQLite
import Glibc
import SlipwaySystem
import Synchronization

/// Folds the WAL back into the database file, on a thread and a connection of its own.
///
/// In WAL mode a checkpoint runs beside readers and writers, so its copying and its fsyncs hold
/// up no request; run on the main connection, under its lock, they did (a p99 of 0.5 s under
/// webhook load, benchmark 4). It runs as soon as a commit leaves `thresholdPages` in the WAL
/// (SQLite's wal hook tells), as SQLite's own autocheckpoint would but off the committing
/// thread: the WAL then restarts from its beginning, a few megabytes that stay in the page
/// cache, instead of growing by hundreds of megabytes between periodic checkpoints, each new
/// block allocated and zeroed by the filesystem and all of it fsynced at once.
public final class WALCheckpointer: Sendable {
    public enum Mode: Sendable {
        /// Copies what it can without waiting for anyone.
        case passive
        /// Waits for readers and writers, copies everything and empties the WAL: at exit.
        case truncate
    }

    let thresholdPages: Int32
    private let connection: PosixMutex<Connection>
    private let wake: EventSignal
    /// Signalled by the thread as it ends, so `stop` can wait for it.
    private let ended: EventSignal
    private let running = Atomic<Bool>(false)
    private let requested = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let completed = Atomic<Int>(0)

    init(path: String, busyTimeoutMilliseconds: Int32, thresholdPages: Int32) throws(SQLiteError) {
        let conn = try Connection(path: path)
        sqlite3_busy_timeout(conn.handle, busyTimeoutMilliseconds)
        // A connection learns the file is in WAL mode only once it reads it; until then its
        // checkpoints would do nothing and still report success.
        guard try conn.queryOne("PRAGMA journal_mode")?.string(0).lowercased() == "wal" else {
            throw SQLiteError(code: SQLITE_ERROR, message: "the checkpoint connection does not see WAL mode", sql: "PRAGMA journal_mode")
        }
        do {
            self.wake = try EventSignal()
            self.ended = try EventSignal()
        } catch {
            throw SQLiteError(code: SQLITE_ERROR, message: "\(error)", sql: nil)
        }
        self.connection = PosixMutex(conn)
        self.thresholdPages = thresholdPages
        running.store(true, ordering: .releasing)
        if !OSThread.detach(name: "checkpointer", stackSize: 256 * 1024, { [self] in run() }) {
            running.store(false, ordering: .releasing)
            Log.warning("cannot start the WAL checkpointer's thread; the WAL is folded back only by periodic checkpoints")
        }
    }

    /// Has `main` report its commits here, so a WAL past the threshold is checkpointed.
    /// The hook holds this object unretained: call `uninstall` before it can go away.
    func install(on main: Connection) {
        sqlite3_wal_hook(main.handle, { context, _, _, pages in
            let checkpointer = Unmanaged<WALCheckpointer>.fromOpaque(context!).takeUnretainedValue()
            if pages >= checkpointer.thresholdPages { checkpointer.request() }
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    func uninstall(from main: Connection) {
        sqlite3_wal_hook(main.handle, nil, nil)
    }

    /// Asks the thread for a passive checkpoint; cheap when one is already asked for.
    func request() {
        guard !requested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wake.signal()
    }

    /// Ends the thread, after the checkpoint it may be running, and waits for it (up to 10 s).
    /// Otherwise the thread held this connection open for a moment after the database was
    /// released, and the WAL outlived it; now both connections close as the database goes, the
    /// last one folding the WAL back and removing it.
    func stop() {
        stopped.store(true, ordering: .releasing)
        wake.signal()
        if running.load(ordering: .acquiring) { ended.wait(timeoutMilliseconds: 10_000) }
    }

    /// Checkpoints the thread has run since start.
    var checkpointsRun: Int { completed.load(ordering: .acquiring) }

    func checkpoint(_ mode: Mode) throws(SQLiteError) {
        let sql = mode == .truncate ? "PRAGMA wal_checkpoint(TRUNCATE)" : "PRAGMA wal_checkpoint(PASSIVE)"
        let (rc, message) = connection.withLock { conn in
            let rc = sqlite3_wal_checkpoint_v2(conn.handle, nil, mode == .truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            return (rc, rc == SQLITE_OK ? "" : String(cString: sqlite3_errmsg(conn.handle)))
        }
        guard rc == SQLITE_OK else { throw SQLiteError(code: rc, message: message, sql: sql) }
    }

    private func run() {
        defer {
            running.store(false, ordering: .releasing)
            ended.signal()
        }
        while !stopped.load(ordering: .acquiring) {
            wake.wait(timeoutMilliseconds: 60_000)
            guard !stopped.load(ordering: .acquiring) else { return }
            guard requested.exchange(false, ordering: .acquiringAndReleasing) else { continue }
            do {
                try checkpoint(.passive)
                completed.add(1, ordering: .releasing)
            } catch {
                Log.warning("WAL checkpoint: \(error)")
            }
        }
    }
}
