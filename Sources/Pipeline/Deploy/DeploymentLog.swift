import Foundation
import Synchronization

/// A deployment's log file: timestamped lines, capped in size keeping its start and its end.
///
/// Past `headLimit` bytes, new lines go to an in-memory tail of at most `tailLimit` bytes, which
/// is appended after an omission marker when the log closes. So the first error and the final
/// result both survive a build that prints megabytes.
public final class DeploymentLog: Sendable {
    private struct State {
        var handle: FileHandle?
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
        let handle: FileHandle?
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        handle = FileHandle(forWritingAtPath: path)
        _ = try? handle?.seekToEnd()
        let existing = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        state = Mutex(State(handle: handle, written: existing))
    }

    /// A log that goes nowhere, for operations outside a deployment.
    public static func discard() -> DeploymentLog { DeploymentLog(path: "/dev/null", cap: Int.max / 2) }

    public func line(_ text: String) {
        let stamped = "\(Timestamp.now()) \(text)\n"
        state.withLock { s in
            if s.written + stamped.utf8.count <= headLimit {
                // A full disk must not fail the deployment's logging itself; the step reports it.
                try? s.handle?.write(contentsOf: Data(stamped.utf8))
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
            guard let handle = s.handle else { return }
            if !s.tail.isEmpty || s.omitted > 0 {
                var text = ""
                if s.omitted > 0 { text += "[... \(s.omitted) bytes of log omitted ...]\n" }
                text += s.tail.joined()
                try? handle.write(contentsOf: Data(text.utf8))
            }
            try? handle.close()
            s.handle = nil
            s.tail = []
        }
    }
}
