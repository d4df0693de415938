import FoundationEssentials
import SlipwaySystem

/// Builds git's argv; running them is someone else's job. `--` always comes before URLs and revisions from users.
public enum GitCommands {
    /// Options on every call: no submodule recursion, no credential helper, only our transports.
    /// No redirects: git follows the first one by default ("initial"), so a server could hand
    /// the clone, and with it the app's token, to another repository or host. Every object
    /// fetched is checked (fsck), so a malformed one made to trip a bug in a later git command
    /// is refused at the door.
    static func base(_ mirror: String? = nil) -> [String] {
        var args = ["-c", "credential.helper=", "-c", "submodule.recurse=false", "-c", "core.hooksPath=/dev/null",
                    "-c", "protocol.ext.allow=never", "-c", "http.followRedirects=false", "-c", "transfer.fsckObjects=true"]
        if let mirror { args += ["--git-dir", mirror] }
        return args
    }

    /// `--no-hardlinks`: a local repository (--allow-local-repos) is copied, not linked, so the
    /// mirror shares no inode, and so no mode, with a repository someone else owns.
    public static func cloneMirror(url: String, into path: String) -> [String] {
        base() + ["clone", "--mirror", "--no-hardlinks", "--no-recurse-submodules", "--quiet", "--", url, path]
    }

    /// Refs are fetched by the mirror refspec; a pushed sha the branch has already moved past stays reachable through `fetchCommit`.
    public static func fetch(mirror: String) -> [String] {
        base(mirror) + ["fetch", "--prune", "--no-recurse-submodules", "--quiet", "origin"]
    }

    public static func setRemote(mirror: String, url: String) -> [String] {
        base(mirror) + ["remote", "set-url", "origin", "--", url]
    }

    public static func fetchCommit(mirror: String, sha: String) -> [String] {
        base(mirror) + ["fetch", "--no-recurse-submodules", "--quiet", "origin", "--", sha]
    }

    public static func resolve(mirror: String, revision: String) -> [String] {
        base(mirror) + ["rev-parse", "--verify", "--quiet", "--end-of-options", revision + "^{commit}"]
    }

    /// sha, subject and author, NUL-separated.
    public static func describe(mirror: String, sha: String) -> [String] {
        base(mirror) + ["log", "-1", "--format=%H%x00%s%x00%an <%ae>", "--end-of-options", sha, "--"]
    }

    public static func hasFile(mirror: String, sha: String, path: String) -> [String] {
        base(mirror) + ["cat-file", "-e", "--end-of-options", "\(sha):\(path)"]
    }

    public static func archive(mirror: String, sha: String, output: String) -> [String] {
        base(mirror) + ["archive", "--format=tar", "--output", output, "--end-of-options", sha]
    }

    /// The environment git runs in: never a prompt, only allowed transports. A token travels in
    /// the file at `credentials` (credentialsConfig(token:)), which the environment only names:
    /// never argv (which `ps` shows), the URL, or the environment itself (/proc/<pid>/environ).
    public static func environment(allowLocal: Bool, credentials: String? = nil, sshKey: String? = nil, knownHosts: String? = nil) -> [String: String] {
        var ssh = "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
        // Host keys are recorded on first use, in a file of Slipway's own.
        if let knownHosts { ssh += " -o UserKnownHostsFile=\(shellQuoted(knownHosts))" }
        if let sshKey { ssh += " -o IdentitiesOnly=yes -i \(shellQuoted(sshKey))" }
        var env = [
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_SSH_COMMAND": ssh,
            "GIT_ALLOW_PROTOCOL": allowLocal ? "https:http:ssh:file" : "https:http:ssh",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_PROTOCOL_FROM_USER": "0",
        ]
        if let credentials {
            // An include, not GIT_CONFIG_GLOBAL: the user's and system's configuration stay as they were.
            env["GIT_CONFIG_COUNT"] = "1"
            env["GIT_CONFIG_KEY_0"] = "include.path"
            env["GIT_CONFIG_VALUE_0"] = credentials
        }
        return env
    }

    /// The config file that carries a token: an Authorization header on git's HTTP requests.
    /// GitHub accepts any user name with a token as the password; x-access-token is its
    /// convention. Base64 needs no quoting in git's config syntax.
    public static func credentialsConfig(token: String) -> [UInt8] {
        let basic = Data("x-access-token:\(token)".utf8).base64EncodedString()
        return Array("[http]\n\textraHeader = Authorization: Basic \(basic)\n".utf8)
    }

    /// `git --version`, asked once at start-up (GitVersion).
    public static func version() -> [String] { ["--version"] }

    /// git runs GIT_SSH_COMMAND through sh; paths are single-quoted for it.
    static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingAll("'", with: "'\\''") + "'"
    }

    public static func generateDeployKey(path: String, comment: String) -> [String] {
        ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]
    }
}
