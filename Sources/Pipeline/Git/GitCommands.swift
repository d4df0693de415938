/// Builds git's argv; running them is someone else's job. `--` always comes before URLs and revisions from users.
public enum GitCommands {
    /// Options on every call: no submodule recursion, no credential helper, only our transports.
    static func base(_ mirror: String? = nil) -> [String] {
        var args = ["-c", "credential.helper=", "-c", "submodule.recurse=false", "-c", "core.hooksPath=/dev/null",
                    "-c", "protocol.ext.allow=never"]
        if let mirror { args += ["--git-dir", mirror] }
        return args
    }

    public static func cloneMirror(url: String, into path: String) -> [String] {
        base() + ["clone", "--mirror", "--no-recurse-submodules", "--quiet", "--", url, path]
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

    /// The environment git runs in: never a prompt, only allowed transports.
    public static func environment(allowLocal: Bool) -> [String: String] {
        [
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
            "GIT_ALLOW_PROTOCOL": allowLocal ? "https:http:ssh:file" : "https:http:ssh",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_PROTOCOL_FROM_USER": "0",
        ]
    }
}
