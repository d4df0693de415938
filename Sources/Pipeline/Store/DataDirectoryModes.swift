import FoundationEssentials
import Glibc
import SlipwaySystem

/// Makes an existing data directory readable by Slipway alone, as a new one is from the start
/// (the server runs under umask 077): the database holds webhook secrets, tokens and env values,
/// and the logs, keys and build contexts are no one else's business either.
///
/// Only the data directory itself and the entries Slipway puts in it are walked: whatever else
/// someone keeps there (a data dir may be pointed at a directory in use) is left as it is.
public enum DataDirectoryModes {
    /// Everything Slipway writes at the top of the data directory: the store, PipelineSettings'
    /// folders, GitMirror's keys and known hosts, RunDirectory, DiskReserve and the edge's
    /// access logs (AccessLogRegistry).
    public static let entries = [
        Store.fileName, Store.fileName + "-wal", Store.fileName + "-shm", Store.fileName + "-journal",
        "repos", "logs", "builds", "keys", "known_hosts", "run", ".disk-reserve", ".disk-reserve.tmp",
        "access",
    ]

    public struct Report: Sendable, Equatable {
        /// Entries whose mode was changed.
        public var fixed = 0
        /// Entries whose mode could not be changed (not Slipway's user's, say), with errno.
        public var failed: [String] = []
    }

    /// Directories become 0700; files lose every group and other bit (so 0644 becomes 0600;
    /// git keeps its objects read-only, 0400 under the umask, and those stay so). Symbolic links,
    /// whose own mode means nothing on Linux, are neither changed nor followed. Each entry is
    /// looked at once, with lstat; chmod runs only where the mode is wrong.
    public static func tighten(dataDir: String) -> Report {
        var report = Report()
        // The data directory's own listing is not walked: only its known entries are.
        _ = visit(dataDir, listing: false, &report)
        var pending = entries.map { dataDir + "/" + $0 }
        while let path = pending.popLast() {
            pending += visit(path, &report).map { path + "/" + $0 }
        }
        return report
    }

    /// Fixes one entry's mode; returns the names in it when it is a directory.
    private static func visit(_ path: String, listing: Bool = true, _ report: inout Report) -> [String] {
        var info = stat()
        guard lstat(path, &info) == 0 else { return [] }
        let permissions = info.st_mode & 0o7777
        switch info.st_mode & 0o170000 {
        case 0o040000:
            set(path, from: permissions, to: 0o700, &report)
            return listing ? (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] : []
        case 0o100000:
            set(path, from: permissions, to: permissions & 0o700, &report)
            return []
        default:
            return []
        }
    }

    private static func set(_ path: String, from current: mode_t, to wanted: mode_t, _ report: inout Report) {
        guard current != wanted else { return }
        if chmod(path, wanted) == 0 {
            report.fixed += 1
        } else {
            report.failed.append("\(path) (errno \(errno))")
        }
    }
}
