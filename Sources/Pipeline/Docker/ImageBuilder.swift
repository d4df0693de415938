import FoundationEssentials
import Synchronization

/// Which of docker's two builders runs `docker build`.
///
/// BuildKit builds the busybox test app about three times faster than the classic builder, and
/// applies `--label` as image metadata. The classic builder turns each `--label` into a LABEL
/// step of its own (one commit each, about 0.15 s), so `DockerCLI` builds without them and adds
/// them all in one second build of a single LABEL line. The classic builder is the fallback for a
/// docker client that cannot use BuildKit.
public enum ImageBuilder: String, Sendable, CaseIterable {
    case buildkit
    case classic

    /// What `--builder` accepts; `auto` asks the docker client.
    public enum Choice: String, Sendable, CaseIterable {
        case auto, buildkit, classic
    }

    /// The environment that selects this builder for one `docker build`.
    var environment: [String: String] { ["DOCKER_BUILDKIT": self == .buildkit ? "1" : "0"] }

    public var displayName: String { self == .buildkit ? "BuildKit" : "classic builder" }

    /// Whether a docker client of this version, without the buildx plugin, builds with BuildKit
    /// when DOCKER_BUILDKIT=1: clients 18.09 to 22.x carry BuildKit support themselves, from 23.0
    /// on it lives in buildx.
    static func clientHasBuiltinBuildKit(version: String) -> Bool {
        let parts = version.split(separator: ".").prefix(2).map { Int($0.prefix { $0.isNumber }) ?? -1 }
        guard parts.count == 2 else { return false }
        let (major, minor) = (parts[0], parts[1])
        return (major == 18 && minor >= 9) || (major >= 19 && major < 23)
    }
}

/// The builder a build uses, and why, for the deployment log's one line about it.
struct BuilderChoice: Sendable, Equatable {
    let builder: ImageBuilder
    let reason: String

    var logLine: String { "builder: \(builder.displayName) (\(reason))" }
}

/// Decides the builder once, on the first build, because Docker may be unreachable when Slipway
/// starts and the answer cannot change while the same client binary runs.
final class ImageBuilderProbe: Sendable {
    private let choice: ImageBuilder.Choice
    private let decided = Mutex<BuilderChoice?>(nil)

    init(choice: ImageBuilder.Choice) {
        self.choice = choice
    }

    func builder(docker executable: String, runner: any ProcessRunner) -> BuilderChoice {
        switch choice {
        case .buildkit: return BuilderChoice(builder: .buildkit, reason: "--builder buildkit")
        case .classic: return BuilderChoice(builder: .classic, reason: "--builder classic")
        case .auto: break
        }
        if let known = decided.withLock({ $0 }) { return known }
        guard let found = detect(executable, runner) else {
            return BuilderChoice(builder: .classic, reason: "the docker client could not be asked whether it has BuildKit")
        }
        decided.withLock { $0 = found }
        return found
    }

    /// nil when the client could not be asked (not installed, timed out): not remembered.
    private func detect(_ executable: String, _ runner: any ProcessRunner) -> BuilderChoice? {
        if let buildx = try? runner.run(ProcessSpec(executable, DockerCommands.buildxVersion()), timeoutSeconds: 20),
           buildx.termination.isSuccess {
            return BuilderChoice(builder: .buildkit, reason: "the docker client has the buildx plugin")
        }
        guard let version = try? runner.run(ProcessSpec(executable, DockerCommands.clientVersion()), timeoutSeconds: 20),
              version.termination.isSuccess else { return nil }
        let text = version.output.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        if ImageBuilder.clientHasBuiltinBuildKit(version: text) {
            return BuilderChoice(builder: .buildkit, reason: "docker client \(text) has BuildKit built in")
        }
        return BuilderChoice(builder: .classic, reason: "docker client \(text) has no BuildKit: from 23.0 on it comes with the buildx "
                             + "plugin, which is not installed; install it (Debian's docker-buildx) for faster builds")
    }
}
