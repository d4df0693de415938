import FoundationEssentials
import Glibc
import SlipwaySystem

/// Where the command-line client finds its server and token: `SLIPWAY_URL` and `SLIPWAY_TOKEN`,
/// else what `slipway login` saved in `$XDG_CONFIG_HOME/slipway/config` (or
/// `~/.config/slipway/config`), a 0600 file in a 0700 folder.
struct ClientConfig: Equatable {
    var url: String
    var token: String

    static func path(environment: [String: String]) -> String {
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((environment["HOME"] ?? "") + "/.config")
        return base + "/slipway/config"
    }

    /// The environment's, else the saved file's; nil when neither says.
    static func load(environment: [String: String]) -> ClientConfig? {
        if let url = environment["SLIPWAY_URL"], !url.isEmpty, let token = environment["SLIPWAY_TOKEN"], !token.isEmpty {
            return ClientConfig(url: trimmed(url), token: token)
        }
        guard let bytes = PosixFile.read(path(environment: environment)), let json = try? JSONParser.parse(bytes),
              let url = json["url"]?.stringValue, let token = json["token"]?.stringValue else { return nil }
        return ClientConfig(url: trimmed(url), token: token)
    }

    func save(environment: [String: String]) throws {
        let file = Self.path(environment: environment)
        let folder = String(file[..<file.lastIndex(of: "/")!])
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        chmod(folder, 0o700)
        let text = JSON.object([("url", .string(url)), ("token", .string(token))]).serialized() + "\n"
        try PosixFile.replacePrivate(file, with: Array(text.utf8))
    }

    static func trimmed(_ url: String) -> String {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}
