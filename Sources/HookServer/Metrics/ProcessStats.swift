import FoundationEssentials
import Glibc
import SlipwaySystem

/// The process's own figures for /metrics, read from /proc: resident memory, open descriptors,
/// threads, and when it started.
enum ProcessStats {
    static let started = Date().timeIntervalSince1970

    struct Figures {
        var residentBytes: Int
        var threads: Int
        var openDescriptors: Int
    }

    static func read() -> Figures {
        var resident = 0
        var threads = 0
        if let status = PosixFile.read("/proc/self/status") {
            for line in String(decoding: status, as: UTF8.self).split(separator: "\n") {
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if line.hasPrefix("VmRSS:"), fields.count >= 2 { resident = (Int(fields[1]) ?? 0) * 1024 }
                if line.hasPrefix("Threads:"), fields.count >= 2 { threads = Int(fields[1]) ?? 0 }
            }
        }
        var descriptors = 0
        if let dir = opendir("/proc/self/fd") {
            while let entry = readdir(dir) {
                let first = withUnsafeBytes(of: entry.pointee.d_name) { $0.first ?? 0 }
                if first != UInt8(ascii: ".") { descriptors += 1 }
            }
            closedir(dir)
            descriptors -= 1 // the directory being read
        }
        return Figures(residentBytes: resident, threads: threads, openDescriptors: max(0, descriptors))
    }
}
