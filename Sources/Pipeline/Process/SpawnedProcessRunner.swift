import CSystem
import FoundationEssentials
import Glibc

/// The real ProcessRunner: posix_spawn with pipes, its own process group, a deadline and an
/// output cap. Teardown follows swift-subprocess: SIGTERM to the group, then SIGKILL after a grace period.
public struct SpawnedProcessRunner: ProcessRunner {
    /// Output kept in the result; the rest still streams to `onOutput`.
    public let outputLimit: Int
    public let killGraceSeconds: Double

    public init(outputLimit: Int = 1 << 20, killGraceSeconds: Double = 5) {
        self.outputLimit = outputLimit
        self.killGraceSeconds = killGraceSeconds
    }

    public static let basePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    public func run(_ spec: ProcessSpec, timeoutSeconds: Double, cancellation: Cancellation?,
                    onOutput: (@Sendable (String) -> Void)?) throws -> ProcessResult {
        // Removed when this returns, after the process has ended, whatever happened (a failed
        // spawn included); only the files this run created, never one already at the path.
        var written: [ProcessSecretFile] = []
        defer { written.forEach { $0.remove() } }
        for file in spec.secretFiles {
            try file.write()
            written.append(file)
        }

        var pipeFDs: [Int32] = [0, 0]
        try check("pipe2", pipe2(&pipeFDs, O_CLOEXEC))
        let readFD = pipeFDs[0], writeFD = pipeFDs[1]
        defer { close(readFD) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var inputFDs: [Int32] = [-1, -1]
        if spec.standardInputBytes != nil {
            try check("pipe2", pipe2(&inputFDs, O_CLOEXEC))
            posix_spawn_file_actions_adddup2(&actions, inputFDs[0], 0)
        } else if let input = spec.standardInputPath {
            posix_spawn_file_actions_addopen(&actions, 0, input, O_RDONLY, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, writeFD, 1)
        posix_spawn_file_actions_adddup2(&actions, writeFD, 2)
        // Everything else is close-on-exec already; this makes sure of it.
        posix_spawn_file_actions_addclosefrom_np(&actions, 3)
        if let dir = spec.workingDirectory {
            posix_spawn_file_actions_addchdir_np(&actions, dir)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A group of its own, so a timeout kills the whole tree (git's helpers, for example),
        // and signals with default dispositions, since the server ignores SIGPIPE.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        var noMask = sigset_t()
        sigemptyset(&noMask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &noMask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var env = ["PATH": Self.basePath, "HOME": ProcessInfo.processInfo.environment["HOME"] ?? "/root", "LANG": "C.UTF-8"]
        for key in ["DOCKER_HOST", "DOCKER_CONFIG", "TMPDIR"] {
            if let value = ProcessInfo.processInfo.environment[key] { env[key] = value }
        }
        for (key, value) in spec.environment { env[key] = value }

        let argv = ([spec.executable] + spec.arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, spec.executable, &actions, &attributes, argv, envp)
        close(writeFD)
        if let bytes = spec.standardInputBytes {
            close(inputFDs[0])
            if rc == 0 {
                _ = bytes.withUnsafeBytes { Glibc.write(inputFDs[1], $0.baseAddress, min($0.count, 65_536)) }
            }
            close(inputFDs[1])
        }
        guard rc == 0 else { throw ProcessError(operation: "spawn \(spec.executable)", errno: rc) }
        if let pidFile = spec.pidFile { OrphanedProcesses.record(pid: pid, in: pidFile) }
        defer { if let pidFile = spec.pidFile { unlink(pidFile) } }

        return collect(pid: pid, readFD: readFD, timeoutSeconds: timeoutSeconds, cancellation: cancellation, onOutput: onOutput)
    }

    private func collect(pid: pid_t, readFD: Int32, timeoutSeconds: Double, cancellation: Cancellation?,
                         onOutput: (@Sendable (String) -> Void)?) -> ProcessResult {
        let start = Date()
        var kept = [UInt8]()
        var pendingLine = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        var timedOut = false, cancelled = false
        var termSentAt: Date?
        var open = true

        func emit(_ bytes: ArraySlice<UInt8>) {
            if kept.count < outputLimit { kept.append(contentsOf: bytes.prefix(outputLimit - kept.count)) }
            guard let onOutput else { return }
            pendingLine.append(contentsOf: bytes)
            while let nl = pendingLine.firstIndex(of: 0x0a) {
                onOutput(String(decoding: pendingLine[..<nl], as: UTF8.self))
                pendingLine.removeSubrange(...nl)
            }
            if pendingLine.count > 64 * 1024 {
                onOutput(String(decoding: pendingLine, as: UTF8.self))
                pendingLine.removeAll()
            }
        }

        while open {
            var fds = [pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)]
            let n = poll(&fds, 1, 200)
            if n > 0 {
                let count = chunk.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
                if count > 0 {
                    emit(chunk[0..<count])
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    open = false
                }
            }
            // Deadlines are checked even while output flows, so a chatty process cannot outlive its timeout.
            if termSentAt == nil {
                if Date().timeIntervalSince(start) > timeoutSeconds { timedOut = true }
                if cancellation?.isCancelled == true { cancelled = true }
                if timedOut || cancelled {
                    kill(-pid, SIGTERM)
                    termSentAt = Date()
                }
            } else if let sent = termSentAt, Date().timeIntervalSince(sent) > killGraceSeconds {
                kill(-pid, SIGKILL)
                termSentAt = .distantFuture
            }
        }
        if !pendingLine.isEmpty { onOutput?(String(decoding: pendingLine, as: UTF8.self)) }

        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // The pipe closed, but a grandchild in the group may live on: it goes too.
        if timedOut || cancelled { kill(-pid, SIGKILL) }
        let termination: Termination
        if status & 0x7f == 0 {
            termination = .exited((status >> 8) & 0xff)
        } else {
            termination = .signaled(status & 0x7f)
        }
        return ProcessResult(termination: termination, output: String(decoding: kept, as: UTF8.self),
                             timedOut: timedOut, cancelled: cancelled)
    }

    private func check(_ operation: String, _ rc: Int32) throws {
        if rc < 0 { throw ProcessError(operation: operation, errno: errno) }
    }
}
