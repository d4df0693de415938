/// A Docker named volume of an app's, mounted at `path` in every container of the app: data
/// that outlives each deployment (a SQLite file, uploads).
///
/// Only named volumes that Slipway owns: a host path is never accepted, since a bind mount of
/// the host is a way out of the container. The volume's Docker name is `slipway-<app>-<name>`.
public struct AppVolume: Sendable, Equatable {
    public var name: String
    public var path: String

    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }

    /// The Docker volume's name. A volume name has no `-` (`AppValidation.volumes`), so the part
    /// after the last one is the volume's and the rest the app's: no two apps' volumes clash.
    public static func dockerName(app: String, volume: String) -> String {
        "slipway-\(app)-\(volume)"
    }
}
