import FoundationEssentials
import SlipwaySystem

/// One bare mirror per app under <data>/repos, cloned in full once and fetched into afterwards.
public struct GitMirror: GitSource {
    public let root: String
    public let runner: any ProcessRunner
    public let allowLocal: Bool
    public let timeoutSeconds: Double
    /// Where each git run with a token finds it, in a file of its own (see spec(_:for:)).
    public let runDirectory: RunDirectory

    public init(root: String, runner: any ProcessRunner, allowLocal: Bool, timeoutSeconds: Double = 300, runDirectory: RunDirectory) {
        self.root = root
        self.runner = runner
        self.allowLocal = allowLocal
        self.timeoutSeconds = timeoutSeconds
        self.runDirectory = runDirectory
    }

    public func path(for appName: String) -> String { root + "/" + appName + ".git" }

    /// Private keys live beside the mirrors, readable by Slipway alone.
    public var keysDir: String { root + "/../keys" }
    public var knownHostsPath: String { root + "/../known_hosts" }
    public func deployKeyPath(for appName: String) -> String { keysDir + "/" + appName + "_ed25519" }

    /// One git command for the app. Its token, if any, is in a 0600 file written for this run
    /// alone and removed when it ends; the environment holds only that file's path. Never for a
    /// URL that would carry it in cleartext (fetchAndResolve says why; this is the backstop).
    func spec(_ args: [String], for app: App) -> ProcessSpec {
        let credentials = app.gitToken.flatMap { token in
            RepositoryURL.sendsCredentialsInCleartext(app.repoURL)
                ? nil : runDirectory.newFile("git-credentials", contents: GitCommands.credentialsConfig(token: token))
        }
        var spec = ProcessSpec("git", args, environment: GitCommands.environment(
            allowLocal: allowLocal, credentials: credentials?.path,
            sshKey: app.deployKeyPublic == nil ? nil : deployKeyPath(for: app.name), knownHosts: knownHostsPath))
        spec.secretFiles = credentials.map { [$0] } ?? []
        return spec
    }

    /// Makes a new ed25519 deploy key for the app and returns its public half.
    public func generateDeployKey(appName: String) throws -> String {
        try FileManager.default.createDirectory(atPath: keysDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = deployKeyPath(for: appName)
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.removeItem(atPath: path + ".pub")
        let result = try runner.run(ProcessSpec("ssh-keygen", GitCommands.generateDeployKey(path: path, comment: "slipway-\(appName)")), timeoutSeconds: 30)
        guard result.termination.isSuccess, let key = FileManager.default.contents(atPath: path + ".pub") else {
            throw GitError(message: "ssh-keygen failed (\(result.termination))")
        }
        return String(decoding: key, as: UTF8.self).trimmingWhitespaceAndNewlines()
    }

    public func removeDeployKey(appName: String) {
        try? FileManager.default.removeItem(atPath: deployKeyPath(for: appName))
        try? FileManager.default.removeItem(atPath: deployKeyPath(for: appName) + ".pub")
    }

    public func fetchAndResolve(app: App, revision: String?, log: DeploymentLog, cancellation: Cancellation?) throws -> ResolvedCommit {
        _ = try RepositoryURL.validate(app.repoURL, allowLocal: allowLocal)
        // Apps stored before this was refused on input may still pair the two.
        if app.gitToken != nil, RepositoryURL.sendsCredentialsInCleartext(app.repoURL) {
            throw GitError(message: "git_token is not sent over http:// to a host that is not loopback: change repo_url to https://")
        }
        let mirror = path(for: app.name)
        if FileManager.default.fileExists(atPath: mirror + "/HEAD") {
            try git(GitCommands.setRemote(mirror: mirror, url: app.repoURL), app: app, log: log, cancellation: cancellation)
            try git(GitCommands.fetch(mirror: mirror), app: app, log: log, cancellation: cancellation)
        } else {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: mirror)
            try git(GitCommands.cloneMirror(url: app.repoURL, into: mirror), app: app, log: log, cancellation: cancellation)
        }
        let wanted = revision ?? "refs/heads/\(app.branch)"
        var sha = try? output(GitCommands.resolve(mirror: mirror, revision: wanted), app: app)
        if sha == nil, let revision, revision.count == 40, revision.allSatisfy(\.isHexDigit) {
            // A pushed sha that is no longer a branch tip: ask for it explicitly.
            try? git(GitCommands.fetchCommit(mirror: mirror, sha: revision), app: app, log: log, cancellation: cancellation)
            sha = try? output(GitCommands.resolve(mirror: mirror, revision: revision), app: app)
        }
        guard let sha, !sha.isEmpty else {
            throw GitError(message: revision == nil ? "branch \(app.branch) not found in the repository" : "revision \(wanted) not found in the repository")
        }
        let fields = try output(GitCommands.describe(mirror: mirror, sha: sha), app: app).split(separator: "\0", omittingEmptySubsequences: false)
        guard fields.count >= 3 else { throw GitError(message: "cannot read commit \(sha)") }
        return ResolvedCommit(sha: String(fields[0]), subject: String(fields[1]), author: String(fields[2]))
    }

    public func branchTip(app: App) throws -> String? {
        let result = try runner.run(spec(GitCommands.resolve(mirror: path(for: app.name), revision: "refs/heads/\(app.branch)"), for: app),
                                    timeoutSeconds: 60)
        // rev-parse --verify --quiet exits 1 and prints nothing for a ref that does not exist.
        guard result.termination.isSuccess else { return nil }
        let sha = result.output.trimmingWhitespaceAndNewlines()
        return sha.isEmpty ? nil : sha
    }

    public func exportTree(app: App, sha: String, to path: String, log: DeploymentLog) throws {
        let mirror = self.path(for: app.name)
        let check = try runner.run(spec(GitCommands.hasFile(mirror: mirror, sha: sha, path: "Dockerfile"), for: app), timeoutSeconds: 60)
        guard check.termination.isSuccess else { throw GitError(message: "no Dockerfile at the repository root") }
        try git(GitCommands.archive(mirror: mirror, sha: sha, output: path), app: app, log: log, cancellation: nil)
    }

    public func remove(appName: String) {
        try? FileManager.default.removeItem(atPath: path(for: appName))
        removeDeployKey(appName: appName)
    }

    private func git(_ args: [String], app: App, log: DeploymentLog, cancellation: Cancellation?) throws {
        let process = spec(args, for: app)
        log.command(process)
        let result = try runner.run(process, timeoutSeconds: timeoutSeconds, cancellation: cancellation) { log.output($0) }
        if result.cancelled { throw DeploymentCancelled() }
        if result.timedOut { throw GitError(message: "git \(args.first(where: { !$0.hasPrefix("-") && !$0.hasOccurrence(of: "=") }) ?? "") timed out after \(Int(timeoutSeconds)) s") }
        guard result.termination.isSuccess else {
            throw GitError(message: "git failed (\(result.termination)): \(GitFailureReason.from(output: result.output))")
        }
    }

    private func output(_ args: [String], app: App) throws -> String {
        let result = try runner.run(spec(args, for: app), timeoutSeconds: 60)
        guard result.termination.isSuccess else { throw GitError(message: "git failed (\(result.termination))") }
        return result.output.trimmingWhitespaceAndNewlines()
    }
}

/// Thrown by a step when its deployment was cancelled.
public struct DeploymentCancelled: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "cancelled" }
}
