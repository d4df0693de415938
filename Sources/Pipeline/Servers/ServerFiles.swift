import FoundationEssentials
import Glibc
import SlipwaySystem

/// A server's files under DATA_DIR/servers/NAME: its private key (0600), the key's public half,
/// and the known_hosts file that pins its host key (0600). The directory is 0700.
public struct ServerFiles: Sendable {
    public let directory: String

    public init(root: String, name: String) {
        directory = root + "/" + name
    }

    public var identity: String { directory + "/id_ed25519" }
    public var publicKey: String { identity + ".pub" }
    public var knownHosts: String { directory + "/known_hosts" }

    func create() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// A private key the user gave, with the newline ssh-keygen wants at its end.
    func writeIdentity(_ key: String) throws {
        var text = key
        if !text.hasSuffix("\n") { text += "\n" }
        try PosixFile.replacePrivate(identity, with: Array(text.utf8))
    }

    var hasPinnedHostKey: Bool {
        (FileManager.default.contents(atPath: knownHosts)?.count ?? 0) > 0
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
