import Glibc

/// File access on plain descriptors, for what Foundation's FileHandle (not part of
/// FoundationEssentials) did: appending to deployment logs, following them, writing to stderr.
public enum PosixFile {
    /// Opens `path` close-on-exec, like every descriptor Slipway holds; nil when it cannot.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o666) -> Int32? {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { return nil }
        }
    }

    /// Writes every byte, retrying short writes; false at the first failure, where FileHandle threw.
    @discardableResult
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
    }

    /// The file's bytes from `offset` to its current end; nil when it cannot be opened or read.
    public static func read(_ path: String, from offset: Int = 0) -> [UInt8]? {
        guard let fd = open(path, O_RDONLY) else { return nil }
        defer { close(fd) }
        var bytes = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset + bytes.count)) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }

    /// Replaces `path` with `bytes` as a whole, readable by its owner only (0600): written to
    /// `path.tmp`, synced, then renamed over it, so a reader sees the old file or the new one and
    /// a crash leaves no half-written secret.
    public static func replacePrivate(_ path: String, with bytes: [UInt8]) throws(IOError) {
        let temporary = path + ".tmp"
        guard let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600) else {
            throw IOError(function: "open \(temporary)", errno: errno)
        }
        fchmod(fd, 0o600)
        let written = writeAll(fd, bytes) && fsync(fd) == 0
        let code = errno
        close(fd)
        guard written else {
            unlink(temporary)
            throw IOError(function: "write \(temporary)", errno: code)
        }
        guard rename(temporary, path) == 0 else { throw IOError(function: "rename \(path)", errno: errno) }
    }
}
