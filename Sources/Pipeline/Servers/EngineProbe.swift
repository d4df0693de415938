import SlipwaySystem

/// Reads what `docker version --format '{{json .}}'`, `docker info --format '{{.DockerRootDir}}'`
/// and `df -Pk` print, and tells ssh's failures apart from their output.
public enum EngineProbe {
    public struct Versions: Sendable, Equatable {
        public let server: String
        public let api: String
        public let os: String
        public let architecture: String
    }

    /// The server side of `docker version`'s JSON (the first line that is an object).
    public static func versions(_ output: String) -> Versions? {
        for line in output.split(separator: "\n") where line.hasPrefix("{") {
            guard let json = try? JSONParser.parse(Array(line.utf8)), let server = json["Server"], let version = server["Version"]?.stringValue else { continue }
            return Versions(server: version, api: server["ApiVersion"]?.stringValue ?? "", os: server["Os"]?.stringValue ?? "",
                            architecture: server["Arch"]?.stringValue ?? "")
        }
        return nil
    }

    /// Available bytes from `df -Pk`'s second line (the fourth column is in KiB).
    public static func freeBytes(_ output: String) -> Int? {
        let lines = output.split(separator: "\n")
        guard lines.count >= 2 else { return nil }
        let columns = lines[1].split(separator: " ", omittingEmptySubsequences: true)
        guard columns.count >= 4, let kib = Int(columns[3]) else { return nil }
        return kib * 1024
    }

    /// Why a connection failed, as the Servers page says it, and whether the host key was the
    /// reason (a changed key is refused, never accepted).
    public static func failure(_ output: String, destination: SSHDestination, pinned: Bool) -> (message: String, hostKeyChanged: Bool) {
        if output.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") || (pinned && output.contains("Host key verification failed")) {
            return ("\(destination.host) answered with another host key than the one pinned at the first connection: refused. "
                    + "If the server was reinstalled, remove it here and add it again.", true)
        }
        if output.contains("Permission denied") {
            return ("\(destination.user)@\(destination.host) refused Slipway's key: add its public key to ~\(destination.user)/.ssh/authorized_keys there", false)
        }
        let lines: [String] = output.split(separator: "\n").map { String($0).trimmingWhitespaceAndNewlines() }
        let telling = ["ssh:", "Cannot connect", "command not found", "permission denied", "Connection refused", "timed out"]
        let detail: String = lines.first { line in telling.contains { line.contains($0) } } ?? lines.last ?? "no output"
        return ("cannot reach the Docker engine of \(destination) over SSH: \(detail.prefix(300))", false)
    }
}
