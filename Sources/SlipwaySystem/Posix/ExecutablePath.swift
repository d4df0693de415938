import Glibc

/// The path this process's binary was started from. Read at start-up and kept: once the file
/// there is replaced (an upgrade), /proc/self/exe names the deleted file instead.
public enum ExecutablePath {
    public static func current() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
