import Glibc
import SlipwaySystem

/// A file that hands a child process something secret (docker's env file, git's credentials
/// config), so that it is neither in argv, which `ps` shows everyone, nor in the environment,
/// which /proc/<pid>/environ shows the same user and which the child itself obeys (an app's
/// DOCKER_HOST would steer Slipway's docker client, an LD_PRELOAD would load into it).
///
/// The runner writes it just before the spawn and removes it when the process has ended, however
/// it ended. It belongs in a RunDirectory, which is 0700.
public struct ProcessSecretFile: Sendable, Equatable {
    public var path: String
    public var contents: [UInt8]

    public init(path: String, contents: [UInt8]) {
        self.path = path
        self.contents = contents
    }

    /// Creates the file 0600 from birth (the mode given to open with O_CREAT, never a chmod
    /// afterwards), so there is no moment at which another user could open it. O_EXCL and
    /// O_NOFOLLOW refuse a file or symlink already at the path rather than write through it.
    func write() throws(IOError) {
        var fd = PosixFile.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600)
        if fd == nil, errno == ENOENT {
            // The run directory went missing (removed by hand, or a test's fresh data dir).
            let parent = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
            if !parent.isEmpty, mkdir(parent, 0o700) == 0 || errno == EEXIST {
                fd = PosixFile.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600)
            }
        }
        guard let fd else { throw IOError(function: "create \(path)", errno: errno) }
        let written = PosixFile.writeAll(fd, contents)
        let writeErrno = errno
        close(fd)
        guard written else {
            unlink(path)
            throw IOError(function: "write \(path)", errno: writeErrno)
        }
    }

    func remove() {
        if unlink(path) != 0 && errno != ENOENT {
            Log.warning("could not remove \(path) (errno \(errno)); it is removed at the next start")
        }
    }
}
