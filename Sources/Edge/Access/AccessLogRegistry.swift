import Glibc
import SlipwaySystem
import Synchronization

/// Every app's access log, by app id: what the edge records into once per finished request, and
/// what the API and the app page read. Made once by the server and handed to both.
///
/// An app's log is made at its first request, so apps that get no traffic cost nothing, and
/// readers of an app with none see an empty ring and zero counters. `remove` forgets an app and
/// deletes its files when the app is deleted.
public final class AccessLogRegistry: Sendable {
    /// Where the files go (`<data-dir>/access`); nil keeps rings and counters only.
    public let directory: String?
    public let ringCapacity: Int
    public let fileLimits: AccessLogFile.Limits
    private let writer: AccessLogWriter
    private let logs = Mutex<[Int: AppAccessLog]>([:])

    public init(directory: String?, ringCapacity: Int = 200, fileLimits: AccessLogFile.Limits = .init()) throws(IOError) {
        self.directory = directory
        self.ringCapacity = ringCapacity
        self.fileLimits = fileLimits
        writer = try AccessLogWriter()
        if let directory {
            // 0700 like every folder of the data directory.
            if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw IOError(function: "mkdir", errno: errno) }
        }
    }

    /// Records one finished request of the app: the edge's one call per request.
    public func log(for appID: Int, name: String, _ record: AccessRecord) {
        appLog(for: appID, name: name).record(record)
    }

    /// The app's log, made at first use. A caller that keeps it (per upstream, say) saves the
    /// lookup under the registry's lock.
    public func appLog(for appID: Int, name: String) -> AppAccessLog {
        if let existing = logs.withLock({ $0[appID] }) { return existing }
        let made = AppAccessLog(appID: appID, name: name, ring: AccessRing(capacity: ringCapacity), file: file(for: name))
        return logs.withLock { all in
            // Another request may have made it meanwhile; its log wins, and ours was never used.
            if let existing = all[appID] { return existing }
            all[appID] = made
            return made
        }
    }

    /// The app's newest requests, newest first; empty for an app with none yet.
    public func recent(appID: Int) -> [AccessRecord] {
        logs.withLock { $0[appID] }?.ring.snapshot() ?? []
    }

    /// The app's counters; zero for an app with no requests yet.
    public func counters(appID: Int) -> AccessCounters.Snapshot {
        logs.withLock { $0[appID] }?.counters.snapshot() ?? .zero
    }

    /// How long the app's requests through the edge took, since the start.
    public func latency(appID: Int) -> Histogram {
        logs.withLock { $0[appID] }?.counters.latencySnapshot ?? Histogram(bounds: AccessCounters.latencyBounds)
    }

    /// Forgets the app and deletes its log files: the app was deleted, and an app made later
    /// under the same name must not inherit its history.
    public func remove(appID: Int, name: String) {
        let removed = logs.withLock { $0.removeValue(forKey: appID) }
        if let file = removed?.file {
            file.remove()
        } else if let file = file(for: name) {
            // Never logged to in this run, but an earlier run may have left files.
            file.remove()
        }
    }

    /// Writes every queued line and stops the writer's thread (server shutdown).
    public func shutdown() {
        writer.stop()
        for log in logs.withLock({ Array($0.values) }) {
            do { try log.file?.close() } catch { Log.error("\(error)") }
        }
    }

    /// nil, and no file, for a name that could leave the directory: names are validated by the
    /// pipeline (lowercase letters, digits, dashes), but this target does not rely on that.
    private func file(for name: String) -> AccessLogFile? {
        guard let directory else { return nil }
        guard !name.isEmpty, !name.hasPrefix("."), !name.utf8.contains(UInt8(ascii: "/")), !name.utf8.contains(0) else {
            Log.error("access log: app name \(AccessText.requestID(name)) cannot name a file; its requests are kept in memory only")
            return nil
        }
        return AccessLogFile(path: "\(directory)/\(name).log", limits: fileLimits, onPending: { [writer] in writer.schedule($0) })
    }
}
