import CSystem
import Glibc
import SlipwaySystem

/// Starts the upgrade on SIGHUP (systemd's reload): runs the binary at the path this process was
/// started from, which `make install` may have replaced since, as `serve --takeover` with the
/// same arguments and environment, so it takes the listening sockets over.
struct UpgradeLauncher: Sendable {
    /// The binary's path, read at start-up (`ExecutablePath`).
    let executable: String
    let arguments: [String]

    init?(executable: String?, arguments: [String]) {
        guard let executable else { return nil }
        self.executable = executable
        self.arguments = arguments
    }

    /// The successor's arguments: this process's, with `--takeover` once.
    static func successorArguments(_ arguments: [String]) -> [String] {
        arguments.contains("--takeover") ? arguments : arguments + ["--takeover"]
    }

    /// Starts the successor; it reports through the log, and this process waits for it on a
    /// thread so it never lingers as a zombie if it fails.
    func launch() {
        let argv = [executable] + Self.successorArguments(arguments)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        // Standard output and error stay this process's: the journal, or the terminal.
        posix_spawn_file_actions_addclosefrom_np(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The signals main blocked are blocked again by the successor's own main.
        var noMask = sigset_t()
        sigemptyset(&noMask)
        posix_spawnattr_setsigmask(&attributes, &noMask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, cArguments, environ)
        guard rc == 0 else {
            Log.error("upgrade: cannot start \(executable): \(String(cString: strerror(rc)))")
            return
        }
        Log.info("upgrade: started \(executable) (process \(pid)) to take over")
        let child = pid
        OSThread.detach(name: "upgrade-child", stackSize: 128 * 1024) {
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
            Log.warning("upgrade: the new process \(child) exited (status \(status >> 8)) before this one did")
        }
    }
}
