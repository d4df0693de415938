import SlipwaySystem
/// Checks of user-supplied app settings, shared by the API and the dashboard's forms.
public enum AppValidation {
    public static func name(_ name: String) throws(ValidationError) {
        guard AppName.isValid(name) else {
            throw ValidationError("name", "name must be 1 to 40 lowercase letters, digits and dashes, not starting or ending with a dash")
        }
    }

    public static func repoURL(_ url: String, allowLocal: Bool) throws(ValidationError) {
        do { _ = try RepositoryURL.validate(url, allowLocal: allowLocal) } catch { throw ValidationError("repo_url", error.reason) }
    }

    public static func branch(_ branch: String) throws(ValidationError) {
        guard BranchName.isValid(branch) else { throw ValidationError("branch", "branch is not a valid git branch name") }
    }

    public static func internalPort(_ port: Int) throws(ValidationError) {
        guard (1...65535).contains(port) else { throw ValidationError("internal_port", "internal_port must be between 1 and 65535") }
    }

    public static func healthPath(_ path: String) throws(ValidationError) {
        guard path.hasPrefix("/"), path.utf8.count <= 1024,
              path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw ValidationError("health_path", "health_path must start with '/' and contain no spaces or control characters")
        }
    }

    public static func memoryMB(_ mb: Int) throws(ValidationError) {
        // Docker refuses less than 6 MB.
        guard (6...1_048_576).contains(mb) else { throw ValidationError("memory_mb", "memory_mb must be between 6 and 1048576") }
    }

    public static func cpus(_ cpus: Double) throws(ValidationError) {
        guard cpus > 0, cpus <= 256 else { throw ValidationError("cpus", "cpus must be greater than 0 and at most 256") }
    }

    /// An app's limit on request bodies through the HTTP edge: 1 byte to 64 GiB. The top is
    /// there to catch a slip (a byte count with digits too many, a g for an m), not to cap
    /// uploads: 64 GiB is past any one request we know an app to take.
    public static let maxRequestBodyRange = 1...(64 << 30)

    public static func maxRequestBody(_ bytes: Int) throws(ValidationError) {
        guard maxRequestBodyRange.contains(bytes) else {
            throw ValidationError("max_request_body", "max_request_body must be from 1 byte to 64g (\(maxRequestBodyRange.upperBound) bytes), got \(bytes)")
        }
    }

    public static let stopTimeoutRange = 0...600

    public static func stopTimeout(_ seconds: Int) throws(ValidationError) {
        guard stopTimeoutRange.contains(seconds) else {
            throw ValidationError("stop_timeout", "stop_timeout must be from 0 to \(stopTimeoutRange.upperBound) seconds, got \(seconds)")
        }
    }

    /// A size given as text, as the size flags take it: "1000", "512k", "10m", "2g". Only read
    /// here; the range is `maxRequestBody`'s check, made on the bytes.
    public static func byteSize(_ text: String, field: String) throws(ValidationError) -> Int {
        guard let bytes = ByteSize.parse(text) else {
            // The text is the user's, and may be a whole request body: shown cut short.
            let shown = text.utf8.count <= 40 ? text : String(text.prefix(40)) + "..."
            throw ValidationError(field, "\(field) must be a number of bytes, or one with a k, m or g suffix such as 10m; got '\(shown)'")
        }
        return bytes
    }

    /// Names per app: Let's Encrypt puts at most 100 on a certificate, and the edge will want
    /// one certificate to be able to cover an app.
    public static let maxDomains = 100

    /// The names as given, checked and in their stored form, in the given order. `reserved` are
    /// the dashboard's own host names: an app served there would receive its session cookie.
    public static func domains(_ names: [String], reserved: Set<String> = []) throws(ValidationError) -> [DomainName] {
        guard names.count <= maxDomains else {
            throw ValidationError("domains", "domains: at most \(maxDomains) per app, got \(names.count)")
        }
        var seen = Set<DomainName>()
        var checked = [DomainName]()
        for text in names {
            let domain: DomainName
            do { domain = try DomainName(parsing: text) } catch { throw ValidationError("domains", "domains: \(error)") }
            guard !reserved.contains(domain.value) else {
                throw ValidationError("domains", "domains: \(domain) is the dashboard's own host name; an app cannot have it")
            }
            guard seen.insert(domain).inserted else { throw ValidationError("domains", "domains: \(domain) is given more than once") }
            checked.append(domain)
        }
        return checked
    }

    public static let maxVolumes = 20

    /// An app's volumes, checked, in their stored form (a path's trailing `/` dropped): each name
    /// lowercase letters, digits, `_` and `.`, starting with a letter or digit, at most 40 (no
    /// `-`: app names have them, and `slipway-<app>-<name>` must name one app's volume only), each path an absolute path in the container below `/`
    /// with no empty, `.` or `..` part and none of the characters Docker's `--mount` syntax gives
    /// a meaning (`,` `=` `:`); no name and no path twice.
    public static func volumes(_ volumes: [AppVolume]) throws(ValidationError) -> [AppVolume] {
        guard volumes.count <= maxVolumes else {
            throw ValidationError("volumes", "volumes: at most \(maxVolumes) per app, got \(volumes.count)")
        }
        var names = Set<String>()
        var paths = Set<String>()
        var checked: [AppVolume] = []
        for volume in volumes {
            let name = volume.name
            guard let first = name.utf8.first, isLowerAlphanumeric(first), name.utf8.count <= 40,
                  name.utf8.allSatisfy({ isLowerAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") })
            else {
                throw ValidationError("volumes", "volumes: \(name.prefix(60).debugDescription) is not a volume name: lowercase letters, digits, "
                                      + "'_' and '.', starting with a letter or digit, at most 40")
            }
            let path = try volumePath(volume.path, of: name)
            guard names.insert(name).inserted else { throw ValidationError("volumes", "volumes: the name \(name) is given more than once") }
            guard paths.insert(path).inserted else { throw ValidationError("volumes", "volumes: the path \(path) is given more than once") }
            checked.append(AppVolume(name: name, path: path))
        }
        return checked
    }

    private static func volumePath(_ given: String, of name: String) throws(ValidationError) -> String {
        let shown = given.prefix(100).debugDescription
        guard given.hasPrefix("/") else {
            throw ValidationError("volumes", "volumes: \(name)'s path \(shown) is not an absolute path in the container (it must start with /)")
        }
        var path = given
        if path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        guard path.utf8.count <= 255, path != "/" else {
            throw ValidationError("volumes", "volumes: \(name)'s path \(shown) must name a folder below / (at most 255 bytes)")
        }
        guard !path.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f || $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: ":") })
        else {
            throw ValidationError("volumes", "volumes: \(name)'s path \(shown) holds a character a mount cannot carry (a control character, ',', '=' or ':')")
        }
        guard !path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().contains(where: { $0.isEmpty || $0 == "." || $0 == ".." })
        else {
            throw ValidationError("volumes", "volumes: \(name)'s path \(shown) has an empty, '.' or '..' part; give the folder's plain path")
        }
        return path
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// Longest env var name, and value, accepted: a name is a line of `docker run --env-file`, and
    /// a value lives in every container's environment.
    public static let maxEnvNameBytes = 256
    public static let maxEnvValueBytes = 32 * 1024

    public static func envName(_ name: String) throws(ValidationError) {
        let bytes = Array(name.utf8)
        guard bytes.count <= maxEnvNameBytes else {
            throw ValidationError("env", "env: a variable name must be at most \(maxEnvNameBytes) bytes")
        }
        func isLetter(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f }
        guard let first = bytes.first, isLetter(first),
              bytes.allSatisfy({ isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) }) else {
            throw ValidationError("env", "env: invalid variable name (use letters, digits and _, not starting with a digit)")
        }
    }

    public static func envValue(_ name: String, _ value: String) throws(ValidationError) {
        guard value.utf8.count <= maxEnvValueBytes else {
            throw ValidationError("env", "env: the value of \(name) must be at most \(maxEnvValueBytes) bytes")
        }
        guard !value.utf8.contains(0x0a), !value.utf8.contains(0x0d), !value.utf8.contains(0) else {
            throw ValidationError("env", "env: the value of \(name) must not contain a newline or NUL")
        }
    }

    public static func env(_ pairs: [(String, String)]) throws(ValidationError) {
        var seen = Set<String>()
        for (name, value) in pairs {
            guard seen.insert(name).inserted else { throw ValidationError("env", "env: \(name) is given more than once") }
            try envName(name)
            try envValue(name, value)
        }
    }

    /// Tokens go into an HTTP header, so they must be one line of visible characters.
    public static func secretToken(_ token: String, field: String) throws(ValidationError) {
        guard !token.isEmpty, token.utf8.count <= 1024, token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw ValidationError(field, "\(field) must be a non-empty token without spaces or control characters")
        }
    }

    /// A git token travels in an Authorization header, so over http:// to a host that is not
    /// loopback anyone on the path reads it. Checked when a token is set, against the URL it
    /// will be sent to...
    public static func gitToken(usableWith repoURL: String) throws(ValidationError) {
        guard RepositoryURL.sendsCredentialsInCleartext(repoURL) else { return }
        throw ValidationError("git_token", "git_token cannot be used with an http:// repo_url whose host is not loopback: "
                              + "the token would cross the network in cleartext (use https://)")
    }

    /// ...and when the URL changes while a token is stored.
    public static func repoURL(_ url: String, usableWithGitToken: Bool) throws(ValidationError) {
        guard usableWithGitToken, RepositoryURL.sendsCredentialsInCleartext(url) else { return }
        throw ValidationError("repo_url", "repo_url cannot be an http:// URL whose host is not loopback while the app has a "
                              + "git_token: the token would cross the network in cleartext (use https://, or clear git_token first)")
    }

    /// A revision given by a user: a branch, tag or sha, never an option.
    public static func ref(_ ref: String) throws(ValidationError) {
        guard !ref.isEmpty, !ref.hasPrefix("-"), ref.utf8.count <= 255,
              ref.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }), !ref.hasOccurrence(of: "..") else {
            throw ValidationError("ref", "ref must be a branch, tag or commit sha")
        }
    }
}
