import CSQLite
import SlipwaySystem
import Synchronization

/// The one SQLite database in the data directory. Every use of its connection is serialized by a mutex,
/// as GRDB's DatabaseQueue does; SQLite work here is short, so contention stays low.
public final class Database: Sendable {
    private let connection: PosixMutex<Connection>
    let checkpointer: WALCheckpointer
    public let path: String

    public typealias CheckpointMode = WALCheckpointer.Mode

    /// SQLite's own autocheckpoint threshold, 4 MB of 4 KiB pages.
    public init(path: String, busyTimeoutMilliseconds: Int32 = 5000, checkpointPages: Int32 = 1000) throws(SQLiteError) {
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
        // Checkpoints run on a thread of their own (WALCheckpointer), not inside whichever
        // request happens to commit the 1000th page: they fsync, which showed as p99 spikes.
        try conn.execute("PRAGMA wal_autocheckpoint = 0")
        guard try conn.queryOne("PRAGMA foreign_keys")?.int(0) == 1 else {
            throw SQLiteError(code: SQLITE_ERROR, message: "foreign keys could not be enabled", sql: "PRAGMA foreign_keys")
        }
        self.path = path
        self.checkpointer = try WALCheckpointer(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds,
                                                thresholdPages: checkpointPages)
        checkpointer.install(on: conn)
        self.connection = PosixMutex(conn)
    }

    deinit {
        connection.withLock { checkpointer.uninstall(from: $0) }
        checkpointer.stop()
    }

    /// Folds the WAL back into the database file now (the checkpointer also does so by itself
    /// whenever the WAL passes `checkpointPages`).
    public func checkpoint(_ mode: CheckpointMode) throws(SQLiteError) {
        try checkpointer.checkpoint(mode)
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
