import SlipwaySystem
/// Tells GitHub how a deployment of a commit went (pending, success, failure).
public protocol CommitStatusReporter: Sendable {
    func report(app: App, deployment: Deployment, state: CommitState, description: String)
}

public enum CommitState: String, Sendable { case pending, success, failure, error }

/// Posts commit statuses through GitHub's REST API with curl (GitHub is HTTPS and Slipway links
/// no TLS library). The token goes to curl on standard input, never on its command line. A
/// failing call is logged and otherwise ignored: it must never fail a deployment.
public struct GitHubStatusReporter: CommitStatusReporter {
    public let runner: any ProcessRunner
    /// https://api.github.com, or a GitHub Enterprise or test server.
    public let apiURL: String
    /// Repositories on this host get statuses.
    public let githubHost: String
    /// Base for target_url links to deployment pages.
    public let publicURL: String

    public init(runner: any ProcessRunner, apiURL: String, githubHost: String, publicURL: String) {
        self.runner = runner
        self.apiURL = apiURL
        self.githubHost = githubHost
        self.publicURL = publicURL
    }

    public static func arguments(url: String, body: String) -> [String] {
        ["--silent", "--show-error", "--fail", "--max-time", "10", "--config", "-", "--request", "POST",
         "--header", "Accept: application/vnd.github+json", "--header", "Content-Type: application/json",
         "--header", "X-GitHub-Api-Version: 2022-11-28", "--header", "User-Agent: slipway",
         "--data-binary", body, "--url", url]
    }

    public func report(app: App, deployment: Deployment, state: CommitState, description: String) {
        guard let token = app.githubToken, let sha = deployment.commitSHA,
              let (owner, repo) = RepositoryURL.ownerAndRepository(app.repoURL, githubHost: githubHost) else { return }
        var base = apiURL
        while base.hasSuffix("/") { base.removeLast() }
        let url = "\(base)/repos/\(owner)/\(repo)/statuses/\(sha)"
        let body = JSON.object([
            ("state", .string(state.rawValue)),
            ("target_url", .string("\(publicURL)/deployments/\(deployment.id)")),
            ("description", .string(String(description.prefix(139)))),
            ("context", .string("slipway/\(app.name)")),
        ]).serialized()
        // curl's config syntax: a quoted string with backslash escapes.
        let escaped = token.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"")
        let config = "header = \"Authorization: Bearer \(escaped)\"\n"
        do {
            let result = try runner.run(ProcessSpec("curl", Self.arguments(url: url, body: body), standardInputBytes: Array(config.utf8)),
                                        timeoutSeconds: 15)
            if !result.termination.isSuccess {
                Log.warning("GitHub status for \(app.name) deployment \(deployment.id) failed: \(result.output.prefix(200))")
            }
        } catch {
            Log.warning("GitHub status for \(app.name) deployment \(deployment.id) failed: \(error)")
        }
    }
}

/// For apps without GitHub, and unit tests.
public struct NoCommitStatus: CommitStatusReporter {
    public init() {}
    public func report(app: App, deployment: Deployment, state: CommitState, description: String) {}
}
