/// The argv of every command Slipway runs to reach another server (built here, run elsewhere).
///
/// Docker's own SSH transport (`docker -H ssh://user@host:port`) runs the `ssh` it finds in PATH,
/// and takes no ssh options. So Slipway puts its own binary first in that PATH under the name
/// `ssh` (`SSHWrapper`), which runs the real ssh with Slipway's key, the server's pinned
/// known_hosts and no user or system ssh configuration (`-F /dev/null`), read from the
/// environment below: a user's ssh set-up is never needed or changed.
public enum SSHCommands {
    /// The environment the wrapper reads (Slipway's own paths, never anything a user typed).
    public enum Environment {
        public static let identity = "SLIPWAY_SSH_IDENTITY"
        public static let knownHosts = "SLIPWAY_SSH_KNOWN_HOSTS"
        /// "accept-new" for the first connection, which pins the host key; "yes" after it.
        public static let pin = "SLIPWAY_SSH_PIN"
        /// The real ssh, so the wrapper never runs itself.
        public static let program = "SLIPWAY_SSH_PROGRAM"
    }

    /// How the host key is treated: pinned on the first success, then required to match.
    public enum Pinning: String, Sendable {
        case acceptNew = "accept-new"
        case required = "yes"
    }

    /// The options the wrapper puts before docker's arguments. ssh keeps the first value it is
    /// given for an option, so docker's own (`ConnectTimeout=30`) cannot override these.
    public static func options(identity: String, knownHosts: String, pinning: Pinning) -> [String] {
        ["-F", "/dev/null", "-i", identity,
         "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
         "-o", "UserKnownHostsFile=\(knownHosts)", "-o", "GlobalKnownHostsFile=/dev/null",
         "-o", "StrictHostKeyChecking=\(pinning.rawValue)", "-o", "UpdateHostKeys=no",
         "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
         "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3"]
    }

    /// `docker -H ssh://...` followed by `arguments`.
    public static func docker(_ destination: SSHDestination, _ arguments: [String]) -> [String] {
        ["-H", destination.dockerURL] + arguments
    }

    /// The engine's versions, as one JSON object.
    public static let version = ["version", "--format", "{{json .}}"]

    /// Where the engine keeps its data.
    public static let rootDirectory = ["info", "--format", "{{.DockerRootDir}}"]

    /// ssh straight to the server (not through docker), for `df`: the wrapper's options, then
    /// the destination and a command the far side's shell reads, so `directory` must be plain
    /// (`isPlainPath`).
    public static func freeDisk(_ destination: SSHDestination, directory: String) -> [String] {
        ["-p", String(destination.port), "-l", destination.user, "--", destination.host, "df", "-Pk", directory]
    }

    /// A path the remote shell reads as one word with no expansion.
    public static func isPlainPath(_ path: String) -> Bool {
        path.hasPrefix("/") && path.utf8.count <= 256 && path.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || "/._-".utf8.contains(byte)
        }
    }

    /// A new ed25519 key pair without a passphrase.
    public static func generateKey(path: String, comment: String) -> [String] {
        ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]
    }

    /// The public half of the private key at `path` (which also checks that it is one).
    public static func publicKey(of path: String) -> [String] { ["-y", "-f", path] }

    /// The fingerprints of the keys in a known_hosts file.
    public static func fingerprints(of knownHosts: String) -> [String] { ["-l", "-f", knownHosts] }
}
