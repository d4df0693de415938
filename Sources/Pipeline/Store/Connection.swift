import CSQLite
import Glibc
import SlipwaySystem

/// A single SQLite connection. Not thread-safe by itself: `Database` serializes every use.
///
/// @unchecked Sendable is safe because the only way to reach a Connection is inside
/// `Database.read`/`write`, which hold the database's mutex for the whole use; it is opened with
/// SQLITE_OPEN_NOMUTEX precisely because that lock already serializes it.
public final class Connection: @unchecked Sendable {
    let handle: OpaquePointer

    /// Prepared statements by SQL text, as GRDB's cachedStatement: preparing a query costs more
    /// than running it for the small lookups pages and webhooks make. They are reset after every
    /// use, so none holds a read transaction open, and finalized with the connection.
    private var cache: [String: Statement] = [:]

    private func statement(_ sql: String) throws(SQLiteError) -> Statement {
        if let cached = cache[sql] { return cached }
        let statement = try Statement(db: handle, sql: sql)
        if cache.count < 256 { cache[sql] = statement }
        return statement
    }

    init(path: String) throws(SQLiteError) {
        Self.createPrivately(path)
        var db: OpaquePointer?
        // SQLite's unix VFS opens its files with O_CLOEXEC, so the git and docker children we spawn
        // never inherit the database or its WAL; a test checks /proc for that.
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            // A failed open still allocates a handle that must be closed.
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: message, sql: nil)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
    }

    /// A new database file is made here, empty and 0600, before SQLite opens it: SQLite would make
    /// it 0644 less the umask, and it holds webhook secrets, tokens and env values. SQLite gives
    /// the -wal and -shm files the database file's own mode, so they follow. An existing file is
    /// left to DataDirectoryModes; a failure here leaves the creation to SQLite, under the umask.
    private static func createPrivately(_ path: String) {
        // Not for SQLite's special names: in-memory databases and URIs.
        guard !path.isEmpty, path != ":memory:", !path.hasPrefix("file:"),
              let fd = PosixFile.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600) else { return }
        Glibc.close(fd)
    }

    deinit {
        cache.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs a statement that returns no rows we want (several statements allowed when there are no arguments).
    public func execute(_ sql: String, _ arguments: any SQLBindable...) throws(SQLiteError) {
        if arguments.isEmpty, sql.hasOccurrence(of: ";") {
            var message: UnsafeMutablePointer<CChar>?
            let rc = sqlite3_exec(handle, sql, nil, nil, &message)
            if rc != SQLITE_OK {
                let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
                sqlite3_free(message)
                throw SQLiteError(code: sqlite3_extended_errcode(handle), message: text, sql: sql)
            }
            return
        }
        let statement = try statement(sql)
        defer { statement.reset() }
        try statement.bind(arguments)
        while try statement.step() {}
    }

    public func query(_ sql: String, _ arguments: [any SQLBindable] = []) throws(SQLiteError) -> [Row] {
        let statement = try statement(sql)
        defer { statement.reset() }
        try statement.bind(arguments)
        var rows = [Row]()
        while try statement.step() { rows.append(statement.row()) }
        return rows
    }

    public func query(_ sql: String, _ arguments: any SQLBindable...) throws(SQLiteError) -> [Row] {
        try query(sql, arguments)
    }

    public func queryOne(_ sql: String, _ arguments: any SQLBindable...) throws(SQLiteError) -> Row? {
        try query(sql, arguments).first
    }

    public var lastInsertRowID: Int { Int(sqlite3_last_insert_rowid(handle)) }
    public var changes: Int { Int(sqlite3_changes(handle)) }
}
