import Glibc
import SlipwaySystem
/// Checks a repository URL against the transport allowlist before git ever sees it.
public enum RepositoryURL {
    public enum Kind: String, Sendable { case https, http, ssh, local }

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    /// The allowed transport of `url`, or why it is refused.
    public static func validate(_ url: String, allowLocal: Bool) throws(Invalid) -> Kind {
        guard !url.isEmpty else { throw Invalid(reason: "repo_url must not be empty") }
        guard url.utf8.count <= 2048 else { throw Invalid(reason: "repo_url is too long") }
        // A leading dash would be read by git as an option.
        guard !url.hasPrefix("-") else { throw Invalid(reason: "repo_url must not start with '-'") }
        guard !url.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7f }) else {
            throw Invalid(reason: "repo_url must not contain whitespace or control characters")
        }
        let lower = url.lowercased()
        if lower.hasPrefix("https://") { try requireHost(url, 8); return .https }
        if lower.hasPrefix("http://") { try requireHost(url, 7); return .http }
        if lower.hasPrefix("ssh://") { try requireHost(url, 6); return .ssh }
        if lower.hasPrefix("file://") || url.hasPrefix("/") {
            guard allowLocal else { throw Invalid(reason: "repo_url: local repositories are not allowed (start slipway with --allow-local-repos)") }
            return .local
        }
        // scp-like "git@github.com:owner/repo.git" is ssh; "::" would be git's transport-helper syntax (ext::, fd::).
        if let colon = url.firstIndex(of: ":"), !url.hasOccurrence(of: "::"), !url.hasOccurrence(of: "://") {
            let host = url[..<colon]
            let path = url[url.index(after: colon)...]
            if !host.isEmpty, !host.hasOccurrence(of: "/"), !path.isEmpty {
                // A host starting with '-' is how an option reaches ssh ("-oProxyCommand=...:r"
                // runs a command; git itself blocks it only since 2.14.1). Refused after a user
                // name too, where ssh would not take it for one: no real host looks like that.
                try requireHostName(host.split(separator: "@", omittingEmptySubsequences: false).last ?? "")
                return .ssh
            }
        }
        throw Invalid(reason: "repo_url: unsupported transport (use https://, http:// or ssh://)")
    }

    private static func requireHost(_ url: String, _ schemeLength: Int) throws(Invalid) {
        let rest = url.dropFirst(schemeLength)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        // A password in the URL would show up in logs and the process list; it belongs in git_token.
        if let at = authority.lastIndex(of: "@"), authority[..<at].hasOccurrence(of: ":") || !url.lowercased().hasPrefix("ssh://") {
            throw Invalid(reason: "repo_url must not contain credentials; set git_token or use a deploy key instead")
        }
        try requireHostName(authority.split(separator: "@", omittingEmptySubsequences: false).last ?? "")
    }

    private static func requireHostName(_ hostAndPort: Substring) throws(Invalid) {
        let name = hostName(hostAndPort)
        guard !name.isEmpty else { throw Invalid(reason: "repo_url has no host") }
        guard !name.hasPrefix("-") else { throw Invalid(reason: "repo_url: the host must not start with '-'") }
    }

    /// True for an http:// URL whose host is not loopback: a token sent there crosses the network
    /// in cleartext, readable by anyone on the path. Loopback (127.0.0.0/8, ::1, localhost)
    /// never leaves the machine, which is why a local git server may still get one.
    public static func sendsCredentialsInCleartext(_ url: String) -> Bool {
        guard url.lowercased().hasPrefix("http://") else { return false }
        return !isLoopback(host: httpHost(url))
    }

    /// The host of a scheme://[user@]host[:port]/... URL, without brackets or port.
    static func httpHost(_ url: String) -> Substring {
        guard let scheme = url.firstOccurrence(of: "://") else { return "" }
        let authority = url[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return hostName(authority.split(separator: "@", omittingEmptySubsequences: false).last ?? "")
    }

    /// "host", "host:port" or "[address]:port" → the host or address alone.
    private static func hostName(_ hostAndPort: Substring) -> Substring {
        hostAndPort.hasPrefix("[") ? hostAndPort.dropFirst().prefix { $0 != "]" } : hostAndPort.prefix { $0 != ":" }
    }

    /// Literal loopback addresses, and the name localhost. Anything else (another spelling of
    /// 127.0.0.1 such as 127.1 or 2130706433 included) counts as remote: refusing too much is
    /// the safe side.
    static func isLoopback(host: Substring) -> Bool {
        let name = String(host).lowercased()
        if name == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, name, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) } == Array(repeating: 0, count: 15) + [1]
        }
        return false
    }

    /// "owner/repo" of a URL on `host` (github.com unless configured), for the status API.
    public static func ownerAndRepository(_ url: String, githubHost: String) -> (owner: String, repo: String)? {
        var rest: Substring
        let lower = url.lowercased()
        if let scheme = lower.firstOccurrence(of: "://") {
            rest = url[scheme.upperBound...]
            let authority = rest.prefix { $0 != "/" }
            let host = authority.split(separator: "@").last.map { $0.split(separator: ":").first ?? $0 } ?? ""
            guard host.lowercased() == githubHost.lowercased() else { return nil }
            rest = rest.dropFirst(authority.count)
        } else if let colon = url.firstIndex(of: ":"), url.hasPrefix("git@") {
            let host = url[url.index(url.startIndex, offsetBy: 4)..<colon]
            guard host.lowercased() == githubHost.lowercased() else { return nil }
            rest = url[url.index(after: colon)...]
        } else {
            return nil
        }
        let parts = rest.split(separator: "/").map(String.init)
        guard parts.count >= 2 else { return nil }
        var repo = parts[parts.count - 1]
        if repo.hasSuffix(".git") { repo.removeLast(4) }
        let owner = parts[parts.count - 2]
        guard !owner.isEmpty, !repo.isEmpty else { return nil }
        return (owner, repo)
    }
}
