import Glibc

/// The path this process's binary was started from. Read at start-up and kept: once the file
/// there is replaced (an upgrade), /proc/self/exe names the deleted file instead.
public enum ExecutablePath {
    public static func current() -> String? { target(of: "/proc/self/exe") }

    /// Where the symbolic link at `path` points; nil when it is none.
    public static func target(of path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink(path, &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
