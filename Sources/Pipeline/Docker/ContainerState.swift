/// What the engine says a container is doing (`docker inspect`'s State.Status), and how it last exited.
public struct ContainerState: Sendable, Equatable {
    public enum Status: Sendable, Equatable {
        case created, running, paused, exited, dead, removing
        /// Running again after its restart policy brought it back: for a new deployment, a failure.
        case restarting
        /// A status this version does not know, kept as the engine wrote it.
        case other(String)

        public init(engine text: Substring) {
            switch text {
            case "created": self = .created
            case "running": self = .running
            case "paused": self = .paused
            case "restarting": self = .restarting
            case "exited": self = .exited
            case "dead": self = .dead
            case "removing": self = .removing
            default: self = .other(String(text))
            }
        }
    }

    public var status: Status
    /// How it last exited; nil when that is no longer known: Docker resets it when a restart
    /// policy starts the container again, and a 0 then would be a wrong answer.
    public var exitCode: Int?

    public init(status: Status, exitCode: Int?) {
        self.status = status
        self.exitCode = exitCode
    }

    public var isRunning: Bool { status == .running }

    /// "exited (exit code 2)", or "exited" when the code is not known, for deployment logs.
    public var exitDescription: String { exitCode.map { "exited (exit code \($0))" } ?? "exited" }
}

/// What removing an image did: the deployer logs only what it really removed.
public enum ImageRemoval: Sendable, Equatable {
    case removed
    /// The image was already gone.
    case absent
}

/// An image as the engine lists it: its id, and its name unless it has lost it (`<none>:<none>`).
public struct ImageInfo: Sendable, Equatable {
    public var id: String
    public var reference: String?

    public init(id: String, reference: String?) {
        self.id = id
        self.reference = reference
    }

    /// One line of `docker images --format '{{.ID}} {{.Repository}}:{{.Tag}}'`.
    public init?(listed line: Substring) {
        let parts = line.split(separator: " ", maxSplits: 1)
        guard let id = parts.first, !id.isEmpty else { return nil }
        let reference = parts.count > 1 ? String(parts[1]) : nil
        self.init(id: String(id), reference: reference?.hasPrefix("<none>") == true ? nil : reference)
    }
}
