import FoundationEssentials
import Glibc
import SlipwayCrypto
import SlipwaySystem

/// `<data>/run`, the 0700 directory of the short-lived files that hand secrets to child processes
/// (ProcessSecretFile: docker's env files, git's credentials configs).
///
/// None of them outlives the process it was written for, so whatever is there at start-up was
/// left by a run that was killed, and goes.
public struct RunDirectory: Sendable {
    /// Absolute: git refuses a relative include.path that does not come from a file ("relative
    /// config includes must come from files"), and the data dir may be given as ./data.
    public let path: String

    public init(dataDir: String) {
        self.init(path: dataDir + "/run")
    }

    public init(path: String) {
        self.path = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// A file named `<name>-<16 hex digits>`: random, so two processes running at once (two
    /// apps deploying, a deployment beside the supervisor's re-creation) never share one.
    public func newFile(_ name: String, contents: [UInt8]) -> ProcessSecretFile {
        ProcessSecretFile(path: path + "/" + name + "-" + PasswordHash.randomToken(bytes: 8), contents: contents)
    }

    /// Creates the directory 0700 or makes it so, and removes what a killed run left in it;
    /// returns how many files that was.
    @discardableResult
    public func prepare() throws(IOError) -> Int {
        if mkdir(path, 0o700) != 0 && errno != EEXIST { throw IOError(function: "mkdir \(path)", errno: errno) }
        var info = stat()
        try syscall("lstat \(path)") { lstat(path, &info) }
        // A symlink here could send the secrets somewhere others can read.
        guard info.st_mode & 0o170000 == 0o040000 else { throw IOError(function: "lstat \(path) (not a directory)", errno: ENOTDIR) }
        if info.st_mode & 0o7777 != 0o700 { try syscall("chmod \(path)") { chmod(path, 0o700) } }
        var removed = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
            let leftover = path + "/" + name
            if unlink(leftover) == 0 {
                removed += 1
            } else {
                Log.warning("could not remove \(leftover) (errno \(errno))")
            }
        }
        return removed
    }
}
