import Pipeline
import SlipwaySystem

/// The deploy form and the settings forms, read into validated values.
struct DeployForm {
    var name: String?
    var settings: AppSettings
    var env: [(String, String)]
    var domains: [String]
    var volumes: [AppVolume]

    init(_ form: [String: String]) throws {
        let repo = (form["repo_url"] ?? "").trimmingSpaces()
        guard !repo.isEmpty else { throw ValidationError("repo_url", "Enter the repository URL.") }
        let name = (form["name"] ?? "").trimmingSpaces()
        self.name = name.isEmpty ? nil : String(name)
        settings = try Self.settings(form, base: nil, repo: String(repo))
        env = try Self.env(form["env"] ?? "", keeping: [])
        domains = Self.domains(form["domains"] ?? "")
        volumes = try Self.volumes(form["volumes"] ?? "")
    }

    /// "name:/path/in/the/container" per line; blank lines are skipped. The values are checked
    /// as the API's list is (`AppValidation.volumes`).
    static func volumes(_ text: String) throws -> [AppVolume] {
        try text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).compactMap { raw in
            let line = raw.trimmingSpaces()
            if line.isEmpty { return nil }
            guard let colon = line.firstIndex(of: ":") else {
                throw ValidationError("volumes", "volumes: each line is a name, a colon and the path in the container, such as data:/app/data")
            }
            return AppVolume(name: String(line[..<colon]).trimmingWhitespace(), path: String(line[line.index(after: colon)...]).trimmingWhitespace())
        }
    }

    /// The app's volumes as the form shows them.
    static func volumesText(_ volumes: [AppVolume]) -> String {
        volumes.map { "\($0.name):\($0.path)" }.joined(separator: "\n")
    }

    /// One name per line, or several separated by commas (no valid name has one, so both can be
    /// accepted); each is trimmed, blanks are skipped, and the rest is checked as the API's list is.
    static func domains(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" || $0 == "," })
            .map { String($0.trimmingSpaces()) }
            .filter { !$0.isEmpty }
    }

    static func settings(_ form: [String: String], base: App?, repo: String? = nil) throws -> AppSettings {
        var s = base.map(AppSettings.init(of:)) ?? AppSettings(repoURL: repo ?? "")
        if let repo { s.repoURL = repo } else if let r = form["repo_url"]?.trimmingSpaces(), !r.isEmpty { s.repoURL = String(r) }
        if let b = form["branch"]?.trimmingSpaces(), !b.isEmpty { s.branch = String(b) }
        if let server = form["server"]?.trimmingSpaces(), !server.isEmpty { s.server = String(server) }
        if let p = form["internal_port"]?.trimmingSpaces(), !p.isEmpty {
            guard let n = Int(p) else { throw ValidationError("internal_port", "internal_port must be a number") }
            s.internalPort = n
        }
        if let h = form["health_path"]?.trimmingSpaces(), !h.isEmpty { s.healthPath = String(h) }
        if let m = form["memory_mb"]?.trimmingSpaces() {
            if m.isEmpty { s.memoryMB = nil } else {
                guard let n = Int(m) else { throw ValidationError("memory_mb", "memory_mb must be a whole number of MB") }
                s.memoryMB = n
            }
        }
        if let c = form["cpus"]?.trimmingSpaces() {
            if c.isEmpty { s.cpus = nil } else {
                guard let n = Double(c) else { throw ValidationError("cpus", "cpus must be a number") }
                s.cpus = n
            }
        }
        if let b = form["max_request_body"]?.trimmingSpaces() {
            // Blank: the server's --max-request-body.
            s.maxRequestBody = b.isEmpty ? nil : try AppValidation.byteSize(String(b), field: "max_request_body")
        }
        // A checkbox sends nothing when unticked: the hidden field says the form had it (an
        // older page without it leaves the setting as it is).
        if form["https_redirect_shown"] != nil {
            s.httpsRedirect = form["https_redirect"] == "1"
            s.hsts = form["hsts"] == "1"
        }
        if form["init_shown"] != nil { s.initProcess = form["init"] == "1" }
        if let t = form["stop_timeout"]?.trimmingSpaces() {
            // Blank: the server's.
            if t.isEmpty { s.stopTimeout = nil } else {
                guard let n = Int(t) else { throw ValidationError("stop_timeout", "stop_timeout must be a whole number of seconds") }
                s.stopTimeout = n
            }
        }
        return s
    }

    /// The mask shown in place of a stored value; a line left as NAME=<mask> keeps it.
    static let mask = "********"

    /// "NAME=value" per line; blank lines and # comments are skipped.
    static func env(_ text: String, keeping current: [(name: String, value: String)]) throws -> [(String, String)] {
        var out = [(String, String)]()
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            let line = raw.trimmingSpaces()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let eq = line.firstIndex(of: "=") else { throw ValidationError("env", "env: each line must be NAME=value") }
            let name = String(line[..<eq]).trimmingWhitespace()
            var value = String(line[line.index(after: eq)...])
            if value == mask, let old = current.first(where: { $0.name == name }) { value = old.value }
            out.append((name, value))
        }
        try AppValidation.env(out)
        return out
    }
}
