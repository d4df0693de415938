/// An SQLite failure, in GRDB's shape: "SQLite error 19: FOREIGN KEY constraint failed - while executing `…`".
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// The extended result code.
    public let code: Int32
    public let message: String
    public let sql: String?

    public var description: String {
        var text = "SQLite error \(code): \(message)"
        if let sql { text += " - while executing `\(sql)`" }
        return text
    }

    /// SQLITE_CONSTRAINT and its extended codes (19 in the low byte).
    public var isConstraintViolation: Bool { code & 0xff == 19 }
    /// SQLITE_CONSTRAINT_UNIQUE (2067): a unique index already holds the value.
    public var isUniqueViolation: Bool { code == 2067 }
    /// SQLITE_FULL (13): the disk is full.
    public var isDiskFull: Bool { code & 0xff == 13 }
}
