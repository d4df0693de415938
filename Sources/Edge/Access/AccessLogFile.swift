import Glibc
import SlipwaySystem
import Synchronization

/// One app's access log on disk (`<data-dir>/access/<app>.log`), a line per request
/// (`AccessLogLine`), rotated by size.
///
/// The request path only queues the record: `append` takes a lock, adds to an array and at most
/// signals the writer, and never touches the disk. The `AccessLogWriter`'s one thread formats
/// and writes the queue (`flush`). The queue is bounded: when the disk falls behind (or fails),
/// further lines are dropped and counted, so a slow disk costs log lines, never request latency
/// or unbounded memory.
public final class AccessLogFile: Sendable {
    public struct Limits: Sendable {
        /// A file is rotated before a line would take it past this (10 MiB, logrotate-sized).
        public var maximumFileBytes: Int
        /// Rotated files kept: `.1` (newest) to `.<generations>`; the oldest is overwritten.
        public var generations: Int
        /// Lines waiting for the writer before more are dropped: 8,192 lines of about 100
        /// bytes is under a MiB per app, and at 20,000 requests/s a disk stall of 0.4 s.
        public var maximumPendingLines: Int

        public init(maximumFileBytes: Int = 10 << 20, generations: Int = 3, maximumPendingLines: Int = 8192) {
            self.maximumFileBytes = maximumFileBytes
            self.generations = generations
            self.maximumPendingLines = maximumPendingLines
        }
    }

    public let path: String
    public let limits: Limits

    private struct Queue {
        var records: [AccessRecord] = []
        var dropped = 0
        var closed = false
    }

    /// What the writer thread owns; a lock all the same, so `flush`, `close` and tests may call
    /// from any thread.
    private struct Output {
        var fd: Int32 = -1
        var size = 0
        /// Set at a write failure and cleared by the next success, so a failing disk is reported
        /// once, not once per batch.
        var failing = false
    }

    private let queue = Mutex(Queue())
    private let output = Mutex(Output())
    /// Called when the queue goes from empty to not: the writer's wake-up.
    private let onPending: @Sendable (AccessLogFile) -> Void

    /// Files are created 0600: every file Slipway writes in its data directory is its own (README,
    /// "Secrets on the host"); an operator reading them is root or the service user.
    static let mode: mode_t = 0o600

    public init(path: String, limits: Limits = Limits(), onPending: @escaping @Sendable (AccessLogFile) -> Void = { _ in }) {
        self.path = path
        self.limits = limits
        self.onPending = onPending
    }

    /// Queues the record's line; false (and counted) when the queue is full or the file closed.
    @discardableResult
    public func append(_ record: AccessRecord) -> Bool {
        let outcome = queue.withLock { q -> (accepted: Bool, wasEmpty: Bool) in
            guard !q.closed else { return (false, false) }
            guard q.records.count < limits.maximumPendingLines else {
                q.dropped += 1
                return (false, false)
            }
            q.records.append(record)
            return (true, q.records.count == 1)
        }
        if outcome.wasEmpty { onPending(self) }
        return outcome.accepted
    }

    /// Lines lost since the file was opened: the queue was full, or a write failed.
    public var droppedLines: Int { queue.withLock { $0.dropped } }

    public var pendingLines: Int { queue.withLock { $0.records.count } }

    /// Writes every queued line, rotating first whenever a line would take the file past
    /// `maximumFileBytes`. Throws when writing starts to fail; while it goes on failing the
    /// lost lines are only counted, and the next success is logged as the end of it.
    public func flush() throws(AccessLogFileError) {
        let records = queue.withLock { q -> [AccessRecord] in
            let taken = q.records
            q.records = []
            return taken
        }
        guard !records.isEmpty else { return }
        let outcome = output.withLock { out -> (error: IOError?, report: Bool) in
            do throws(IOError) {
                try write(records, into: &out)
                if out.failing {
                    out.failing = false
                    Log.info("access log \(path): writing again")
                }
                return (nil, false)
            } catch {
                // Reopened at the next batch: the file may have been moved or its disk replaced.
                closeDescriptor(&out)
                defer { out.failing = true }
                return (error, !out.failing)
            }
        }
        guard let cause = outcome.error else { return }
        // Counted whole, though a rotation may have written part of the batch before failing.
        queue.withLock { $0.dropped += records.count }
        if outcome.report { throw AccessLogFileError(path: path, cause: cause, lostLines: records.count) }
    }

    /// Writes what is queued, closes the descriptor, and refuses further lines.
    public func close() throws(AccessLogFileError) {
        defer {
            queue.withLock { $0.closed = true }
            output.withLock { closeDescriptor(&$0) }
        }
        try flush()
    }

    /// Closes the file and removes it with its rotated generations (the app was deleted).
    public func remove() {
        queue.withLock { q in
            q.closed = true
            q.records = []
        }
        output.withLock { closeDescriptor(&$0) }
        for file in [path] + (1...max(1, limits.generations)).map(generationPath) {
            if unlink(file) != 0 && errno != ENOENT {
                Log.error("access log: could not remove \(file): \(IOError(function: "unlink", errno: errno))")
            }
        }
    }

    public func generationPath(_ generation: Int) -> String { "\(path).\(generation)" }

    private func write(_ records: [AccessRecord], into out: inout Output) throws(IOError) {
        if out.fd < 0 { try open(&out) }
        var chunk: [UInt8] = []
        chunk.reserveCapacity(records.count * 100)
        for record in records {
            let line = Array(AccessLogLine.format(record).utf8)
            if out.size + chunk.count > 0, out.size + chunk.count + line.count > limits.maximumFileBytes {
                try writeAll(chunk, &out)
                chunk.removeAll(keepingCapacity: true)
                try rotate(&out)
            }
            chunk.append(contentsOf: line)
        }
        try writeAll(chunk, &out)
    }

    private func writeAll(_ bytes: [UInt8], _ out: inout Output) throws(IOError) {
        guard !bytes.isEmpty else { return }
        guard PosixFile.writeAll(out.fd, bytes) else { throw IOError(function: "write", errno: errno) }
        out.size += bytes.count
    }

    private func open(_ out: inout Output) throws(IOError) {
        guard let fd = PosixFile.open(path, O_WRONLY | O_CREAT | O_APPEND, mode: Self.mode) else {
            throw IOError(function: "open", errno: errno)
        }
        // The file may hold an earlier run's lines: rotation counts them.
        var info = stat()
        out.size = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
        out.fd = fd
    }

    /// `.N-1` → `.N`, …, `.1` → `.2`, the file → `.1`, then a new file. rename replaces the oldest.
    private func rotate(_ out: inout Output) throws(IOError) {
        closeDescriptor(&out)
        if limits.generations > 0 {
            for generation in stride(from: limits.generations - 1, through: 1, by: -1) {
                try rename(generationPath(generation), generationPath(generation + 1))
            }
            try rename(path, generationPath(1))
        } else if unlink(path) != 0 && errno != ENOENT {
            throw IOError(function: "unlink", errno: errno)
        }
        try open(&out)
    }

    private func rename(_ from: String, _ to: String) throws(IOError) {
        if Glibc.rename(from, to) != 0 && errno != ENOENT { throw IOError(function: "rename", errno: errno) }
    }

    private func closeDescriptor(_ out: inout Output) {
        if out.fd >= 0 { Glibc.close(out.fd) }
        out.fd = -1
        out.size = 0
    }
}
