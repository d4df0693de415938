import Glibc

/// The process's limit on open file descriptors. Every client connection, relayed app
/// connection (two each), pipe and database file takes one, and the usual soft limit (1,024)
/// is smaller than what the server is configured to hold open.
public enum DescriptorLimit {
    /// Raises the soft limit to the hard one; returns the limit in force afterwards, and
    /// whether it changed.
    @discardableResult
    public static func raiseToHardLimit() -> (limit: Int, raised: Bool) {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return (0, false) }
        guard limits.rlim_cur < limits.rlim_max else { return (Int(clamping: limits.rlim_cur), false) }
        let before = limits.rlim_cur
        limits.rlim_cur = limits.rlim_max
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return (Int(clamping: before), false) }
        return (Int(clamping: limits.rlim_cur), true)
    }
}
