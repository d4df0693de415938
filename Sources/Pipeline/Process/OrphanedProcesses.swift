import FoundationEssentials
import Glibc
import SlipwaySystem

/// Ends the builds a killed Slipway left running.
///
/// Children run in process groups of their own, so a SIGKILL of the server leaves a `docker build`
/// client running; it would finish and tag an image for a deployment that the next run has already
/// marked interrupted. Killing the client cancels the build in the engine, with either builder.
public enum OrphanedProcesses {
    static func record(pid: pid_t, in path: String) {
        guard let fd = PosixFile.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600) else { return }
        PosixFile.writeAll(fd, Array("\(pid)\n".utf8))
        close(fd)
    }

    /// Kills the process group of every `*.pid` file in `directory` whose process still runs a
    /// command containing `marker` (a pid may have been reused since), and removes the files.
    /// Returns the pids it killed.
    @discardableResult
    public static func killLeftovers(in directory: String, marker: String) -> [pid_t] {
        var killed: [pid_t] = []
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where file.hasSuffix(".pid") {
            let path = directory + "/" + file
            defer { unlink(path) }
            guard let text = read(path), let pid = pid_t(text.split(whereSeparator: \.isWhitespace).first ?? ""), pid > 1,
                  let argv = read("/proc/\(pid)/cmdline")?.split(separator: "\0").map(String.init),
                  argv.contains(where: { $0.contains(marker) }) else { continue }
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
            killed.append(pid)
        }
        return killed
    }

    private static func read(_ path: String) -> String? {
        PosixFile.read(path).map { String(decoding: $0, as: UTF8.self) }
    }
}
