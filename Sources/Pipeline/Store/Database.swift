import CSQLite
import Synchronization

/// The one SQLite database in the data directory. Every use of its connection is serialized by a mutex,
/// as GRDB's DatabaseQueue does; SQLite work here is short, so contention stays low.
public final class Database: Sendable {
    private let connection: PosixMutex<Connection>
    /// A second connection, for checkpoints only (see `checkpoint`).
    private let checkpointer: PosixMutex<Connection>
    public let path: String

    public enum CheckpointMode {
        /// Copies what it can without waiting for anyone: the periodic one.
        case passive
        /// Waits for readers and writers, copies everything and empties the WAL: at exit.
        case truncate
    }

    public init(path: String, busyTimeoutMilliseconds: Int32 = 5000) throws(SQLiteError) {
        let conn = try Connection(path: path)
        sqlite3_busy_timeout(conn.handle, busyTimeoutMilliseconds)
        // WAL lets readers (the dashboard) proceed while a deployment writes; it must be checked,
        // because SQLite silently keeps the old mode where WAL is impossible.
        let mode = try conn.queryOne("PRAGMA journal_mode = WAL")?.string(0)
        guard mode?.lowercased() == "wal" else {
            throw SQLiteError(code: SQLITE_ERROR, message: "journal_mode is \(mode ?? "unknown"), expected wal", sql: "PRAGMA journal_mode = WAL")
        }
        try conn.execute("PRAGMA foreign_keys = ON")
        try conn.execute("PRAGMA synchronous = NORMAL")
        // Checkpoints run from the supervisor's thread (`checkpoint()`), not inside whichever
        // request happens to commit the 1000th page: they fsync, which showed as p99 spikes.
        try conn.execute("PRAGMA wal_autocheckpoint = 0")
        guard try conn.queryOne("PRAGMA foreign_keys")?.int(0) == 1 else {
            throw SQLiteError(code: SQLITE_ERROR, message: "foreign keys could not be enabled", sql: "PRAGMA foreign_keys")
        }
        // A connection learns the file is in WAL mode only once it reads it; until then its
        // checkpoints would do nothing and still report success.
        let checkpointConnection = try Connection(path: path)
        sqlite3_busy_timeout(checkpointConnection.handle, busyTimeoutMilliseconds)
        guard try checkpointConnection.queryOne("PRAGMA journal_mode")?.string(0).lowercased() == "wal" else {
            throw SQLiteError(code: SQLITE_ERROR, message: "the checkpoint connection does not see WAL mode", sql: "PRAGMA journal_mode")
        }
        self.path = path
        self.connection = PosixMutex(conn)
        self.checkpointer = PosixMutex(checkpointConnection)
    }

    /// Folds the WAL back into the database file, on a connection of its own: in WAL mode a
    /// checkpoint runs beside readers and writers, so its copying and its fsync no longer hold
    /// the main connection's lock. They did, and every request waited for them (p99 of 0.5 s
    /// under webhook load, benchmark 4).
    public func checkpoint(_ mode: CheckpointMode) throws(SQLiteError) {
        let (rc, message) = checkpointer.withLock { conn in
            let rc = sqlite3_wal_checkpoint_v2(conn.handle, nil, mode == .truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            return (rc, rc == SQLITE_OK ? "" : String(cString: sqlite3_errmsg(conn.handle)))
        }
        guard rc == SQLITE_OK else {
            throw SQLiteError(code: rc, message: message,
                              sql: mode == .truncate ? "PRAGMA wal_checkpoint(TRUNCATE)" : "PRAGMA wal_checkpoint(PASSIVE)")
        }
    }

    /// Runs `body` with exclusive use of the connection.
    public func read<T>(_ body: (Connection) throws -> T) throws -> T {
        try connection.withLock { conn in try body(conn) }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    public func write<T>(_ body: (Connection) throws -> T) throws -> T {
        try connection.withLock { conn in
            try conn.execute("BEGIN IMMEDIATE")
            do {
                let result = try body(conn)
                try conn.execute("COMMIT")
                return result
            } catch {
                try? conn.execute("ROLLBACK")
                throw error
            }
        }
    }
}
