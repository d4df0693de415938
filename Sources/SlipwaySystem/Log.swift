import Synchronization

/// One line per event on stderr: time, level, message. Secrets must never be passed in.
public enum Log {
    public enum Level: String, Sendable { case debug = "DEBUG", info = "INFO", warning = "WARN", error = "ERROR" }

    private static let lock = Mutex(())

    public static func info(_ message: String) { write(.info, message) }
    public static func warning(_ message: String) { write(.warning, message) }
    public static func error(_ message: String) { write(.error, message) }

    /// Runs work whose failure must not stop the caller (a deployment carries on when a progress
    /// write fails) but must never pass unseen: a failure is logged as an error naming `operation`.
    public static func attempt(_ operation: @autoclosure () -> String, _ body: () throws -> Void) {
        do {
            try body()
        } catch {
            Log.error("\(operation()) failed: \(error)")
        }
    }

    public static func write(_ level: Level, _ message: String) {
        // One write(2) per line, under a lock, so lines from different threads never interleave.
        let line = "\(Timestamp.now()) \(level.rawValue) \(message.replacingAll("\n", with: " "))\n"
        lock.withLock { _ in
            _ = PosixFile.writeAll(2, Array(line.utf8))
        }
    }
}
