/// A commit resolved for a deployment.
public struct ResolvedCommit: Sendable, Equatable {
    public var sha: String
    public var subject: String
    public var author: String

    public init(sha: String, subject: String, author: String) {
        self.sha = sha
        self.subject = subject
        self.author = author
    }
}

/// Where deployments get their source: fetch, resolve and export a tree. A seam for unit tests.
public protocol GitSource: Sendable {
    /// Brings the app's mirror up to date and resolves `revision` (a sha, a ref, or nil for the branch head).
    func fetchAndResolve(app: App, revision: String?, log: DeploymentLog, cancellation: Cancellation?) throws -> ResolvedCommit
    /// The commit the app's branch points at in the mirror as last fetched; nil when the branch
    /// is gone. Read after `fetchAndResolve`, it says whether a pushed commit is still the tip.
    func branchTip(app: App) throws -> String?
    /// Writes the commit's tree as a tar (a build context), failing when there is no Dockerfile.
    func exportTree(app: App, sha: String, to path: String, log: DeploymentLog) throws
    /// Forgets the app's mirror and deploy key.
    func remove(appName: String)
    /// Makes a new SSH deploy key for the app; returns its public half.
    func generateDeployKey(appName: String) throws -> String
    func removeDeployKey(appName: String)
}

public struct GitError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }

    public init(message: String) { self.message = message }
}
