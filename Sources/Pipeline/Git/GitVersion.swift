import SlipwaySystem

/// The installed git's version, asked once at start-up: Slipway runs git on repositories other
/// people control, so an old git is a risk its operator should hear about.
public struct GitVersion: Comparable, Sendable, CustomStringConvertible {
    public let major: Int
    public let minor: Int
    public let patch: Int

    public init(_ major: Int, _ minor: Int, _ patch: Int = 0) {
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    /// 2.39 is the oldest line that got the fixes of May 2024 (CVE-2024-32002, code execution
    /// on clone, among them: 2.39.4); older lines got none. Debian 12 ships 2.39.
    public static let recommendedMinimum = GitVersion(2, 39)

    public var description: String { "\(major).\(minor).\(patch)" }

    public static func < (a: GitVersion, b: GitVersion) -> Bool {
        (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
    }

    /// "git version 2.39.5", "git version 2.45.1.windows.1", "git version 2.39.3 (Apple Git-146)";
    /// nil for anything else. A missing patch number counts as 0.
    public static func parse(_ output: String) -> GitVersion? {
        let prefix = "git version "
        let line = output.trimmingWhitespaceAndNewlines()
        guard line.hasPrefix(prefix) else { return nil }
        let token = line.dropFirst(prefix.count).prefix { $0 != " " }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2, let major = Int(parts[0]), let minor = Int(parts[1]), major >= 0, minor >= 0 else { return nil }
        // The patch may carry a suffix ("1-rc0", "windows"); its leading digits are the number.
        let patch = parts.count > 2 ? Int(parts[2].prefix { $0.isASCII && $0.isNumber }) ?? 0 : 0
        return GitVersion(major, minor, patch)
    }

    /// What the operator should be told about the git `runner` finds, or nil when it is recent
    /// enough. Waits at most `timeoutSeconds` for `git --version`.
    public static func startupWarning(runner: any ProcessRunner, executable: String = "git", timeoutSeconds: Double = 10) -> String? {
        let result: ProcessResult
        do {
            result = try runner.run(ProcessSpec(executable, GitCommands.version()), timeoutSeconds: timeoutSeconds)
        } catch {
            return "git could not be run (\(error)): deployments will fail until it is installed"
        }
        if result.timedOut { return "`git --version` did not answer within \(Int(timeoutSeconds)) s: is git working?" }
        guard result.termination.isSuccess, let version = parse(result.output) else {
            return "git's version could not be read from `git --version` (\(result.termination)); Slipway expects git \(recommendedMinimum.major).\(recommendedMinimum.minor) or newer"
        }
        guard version < recommendedMinimum else { return nil }
        return "git \(version) is older than \(recommendedMinimum.major).\(recommendedMinimum.minor), the oldest line that got the "
            + "security fixes of May 2024 (CVE-2024-32002 among them), and Slipway runs git on repositories others control: upgrade git"
    }
}
