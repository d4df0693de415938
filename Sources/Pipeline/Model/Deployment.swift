import SlipwaySystem

/// One attempt to put a version of an app live.
public struct Deployment: Sendable, Equatable {
    public var id: Int
    public var appID: Int
    public var appName: String
    public var status: DeploymentStatus
    public var trigger: DeploymentTrigger
    public var ref: String?
    public var commitSHA: String?
    public var commitMessage: String?
    public var commitAuthor: String?
    public var image: String?
    public var containerID: String?
    public var sourceDeploymentID: Int?
    public var deliveryID: String?
    public var error: String?
    public var createdAt: String
    public var startedAt: String?
    public var finishedAt: String?
    /// Step name → milliseconds, in the order the steps ran.
    public var steps: [(name: String, milliseconds: Int)]
    public var logPath: String?
    /// The server it was built and run on (set when it starts): where its container and image are.
    public var server: String = Server.localName

    public static func == (a: Deployment, b: Deployment) -> Bool {
        a.id == b.id && a.status == b.status && a.image == b.image && a.error == b.error
            && a.steps.map(\.name) == b.steps.map(\.name) && a.steps.map(\.milliseconds) == b.steps.map(\.milliseconds)
            && a.commitSHA == b.commitSHA && a.finishedAt == b.finishedAt
    }

    public var durationMilliseconds: Int? {
        guard let startedAt, let finishedAt,
              let s = Timestamp.parse(startedAt), let f = Timestamp.parse(finishedAt) else { return nil }
        return Int((f.timeIntervalSince(s) * 1000).rounded())
    }
}
