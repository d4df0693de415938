import Glibc
import SlipwaySystem
import Synchronization

/// A deployment's log file: timestamped lines, capped in size keeping its start and its end.
///
/// Past `headLimit` bytes, new lines go to an in-memory tail of at most `tailLimit` bytes, which
/// is appended after an omission marker when the log closes. So the first error and the final
/// result both survive a build that prints megabytes.
public final class DeploymentLog: Sendable {
    private struct State {
        var fd: Int32?
        var written = 0
        var tail: [String] = []
        var tailBytes = 0
        var omitted = 0
    }

    public let path: String
    private let headLimit: Int
    private let tailLimit: Int
    private let state: Mutex<State>

    public static let defaultCap = 5 * 1024 * 1024

    public init(path: String, cap: Int = DeploymentLog.defaultCap) {
        self.path = path
        self.headLimit = cap / 2
        self.tailLimit = cap / 2
        // 0600: a build's output may echo what it was given.
        let fd = PosixFile.open(path, O_WRONLY | O_CREAT, mode: 0o600)
        // Not O_APPEND: like the FileHandle before it, the log writes on from where the file ended when opened.
        let existing = fd.map { max(0, Int(lseek($0, 0, SEEK_END))) } ?? 0
        state = Mutex(State(fd: fd, written: existing))
    }

    /// A log nobody closed (a discarded one, say) still gives its descriptor back, as FileHandle did.
    deinit {
        state.withLock { s in
            if let fd = s.fd { Glibc.close(fd) }
        }
    }

    /// A log that goes nowhere, for operations outside a deployment.
    public static func discard() -> DeploymentLog { DeploymentLog(path: "/dev/null", cap: Int.max / 2) }

    public func line(_ text: String) {
        let stamped = "\(Timestamp.now()) \(text)\n"
        state.withLock { s in
            if s.written + stamped.utf8.count <= headLimit {
                // A full disk must not fail the deployment's logging itself; the step reports it.
                if let fd = s.fd { PosixFile.writeAll(fd, Array(stamped.utf8)) }
                s.written += stamped.utf8.count
            } else {
                s.tail.append(stamped)
                s.tailBytes += stamped.utf8.count
                while s.tailBytes > tailLimit, !s.tail.isEmpty {
                    let dropped = s.tail.removeFirst()
                    s.tailBytes -= dropped.utf8.count
                    s.omitted += dropped.utf8.count
                }
            }
        }
    }

    public func step(_ name: String) { line("==> \(name)") }
    public func command(_ spec: ProcessSpec) { line("$ \(spec.displayLine)") }
    public func output(_ text: String) { line("  \(text)") }

    public func close() {
        state.withLock { s in
            guard let fd = s.fd else { return }
            if !s.tail.isEmpty || s.omitted > 0 {
                var text = ""
                if s.omitted > 0 { text += "[... \(s.omitted) bytes of log omitted ...]\n" }
                text += s.tail.joined()
                PosixFile.writeAll(fd, Array(text.utf8))
            }
            Glibc.close(fd)
            s.fd = nil
            s.tail = []
        }
    }
}
