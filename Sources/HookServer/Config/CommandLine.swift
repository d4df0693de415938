import Pipeline
import SlipwaySystem

/// What the command line asks for.
enum Command {
    case serve(Configuration)
    case help
    case version
}

/// An invalid flag or value; main prints it and exits 2.
struct UsageError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Parses `slipway [serve] [--flag value | --flag=value]...` over the SLIPWAY_* environment.
enum CommandLineParser {
    static let version = "0.1.0"

    private struct Option: Sendable {
        let flag: String
        let env: String?
        let valueName: String?
        let help: String
        let apply: @Sendable (inout Configuration, String, String) throws(UsageError) -> Void
    }

    private static let options: [Option] = [
        Option(flag: "--host", env: "SLIPWAY_HOST", valueName: "ADDR", help: "address to listen on (default 127.0.0.1)") { c, v, f throws(UsageError) in
            guard !v.isEmpty, !v.hasOccurrence(of: " ") else { throw UsageError(message: "\(f): invalid host '\(v)'") }
            c.host = v
        },
        Option(flag: "--port", env: "SLIPWAY_PORT", valueName: "N", help: "port for the dashboard, API and webhooks (default 5000)") { c, v, f throws(UsageError) in
            c.port = try integer(v, flag: f, in: 0...65535)
        },
        Option(flag: "--data-dir", env: "SLIPWAY_DATA_DIR", valueName: "DIR", help: "database, repository mirrors and logs (default ./data)") { c, v, f throws(UsageError) in
            guard !v.isEmpty else { throw UsageError(message: "\(f): must not be empty") }
            c.dataDir = v
        },
        Option(flag: "--app-ports", env: "SLIPWAY_APP_PORTS", valueName: "LOW-HIGH|off", help: "public ports for apps, or off for none (default 8001-8100)") { c, v, f throws(UsageError) in
            // off: apps are reached only at their domains, through the HTTP edge.
            if v == "off" {
                c.appPorts = nil
                return
            }
            let parts = v.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, let low = Int(parts[0]), let high = Int(parts[1]), low >= 1, high <= 65535, low <= high else {
                throw UsageError(message: "\(f): expected a range LOW-HIGH within 1-65535 with LOW <= HIGH, or off, got '\(v)'")
            }
            c.appPorts = low...high
        },
        Option(flag: "--apps-host", env: "SLIPWAY_APPS_HOST", valueName: "HOST", help: "host shown in app URLs (default: --host)") { c, v, _ in c.appsHost = v },
        Option(flag: "--public-url", env: "SLIPWAY_PUBLIC_URL", valueName: "URL", help: "base URL of this server, for webhook URLs") { c, v, f throws(UsageError) in
            guard v.hasPrefix("http://") || v.hasPrefix("https://"), v.count > 8, !v.hasOccurrence(of: " ") else {
                throw UsageError(message: "\(f): expected an http:// or https:// URL, got '\(v)'")
            }
            c.publicURL = v
        },
        Option(flag: "--allow-local-repos", env: "SLIPWAY_ALLOW_LOCAL_REPOS", valueName: nil, help: "accept file:// URLs and local paths as repositories") { c, v, f throws(UsageError) in
            c.allowLocalRepos = try boolean(v, flag: f)
        },
        Option(flag: "--takeover", env: nil, valueName: nil,
               help: "take the listening sockets over from the Slipway running on this data directory, which then exits (an upgrade without refusing a connection; SIGHUP to the running one starts this)") { c, v, f throws(UsageError) in
            c.takeover = try boolean(v, flag: f)
        },
        Option(flag: "--templates-dir", env: "SLIPWAY_TEMPLATES_DIR", valueName: "DIR", help: "HTML templates (default: Templates beside the binary)") { c, v, _ in c.templatesDir = v },
        Option(flag: "--max-connections", env: "SLIPWAY_MAX_CONNECTIONS", valueName: "N", help: "simultaneous client connections (default 1024)") { c, v, f throws(UsageError) in
            c.maxConnections = try integer(v, flag: f, in: 1...100_000)
        },
        Option(flag: "--header-timeout", env: "SLIPWAY_HEADER_TIMEOUT", valueName: "SECONDS", help: "time to receive request headers (default 10)") { c, v, f throws(UsageError) in
            c.headerTimeout = try integer(v, flag: f, in: 1...3600)
        },
        Option(flag: "--idle-timeout", env: "SLIPWAY_IDLE_TIMEOUT", valueName: "SECONDS", help: "keep-alive idle time (default 75)") { c, v, f throws(UsageError) in
            c.idleTimeout = try integer(v, flag: f, in: 1...3600)
        },
        Option(flag: "--body-timeout", env: "SLIPWAY_BODY_TIMEOUT", valueName: "SECONDS", help: "time between reads of a request body (default 10)") { c, v, f throws(UsageError) in
            c.bodyTimeout = try integer(v, flag: f, in: 1...3600)
        },
        Option(flag: "--max-builds", env: "SLIPWAY_MAX_BUILDS", valueName: "N", help: "deployments of different apps at once (default 2)") { c, v, f throws(UsageError) in
            c.maxBuilds = try integer(v, flag: f, in: 1...64)
        },
        Option(flag: "--keep-images", env: "SLIPWAY_KEEP_IMAGES", valueName: "N", help: "images kept per app for rollback (default 5)") { c, v, f throws(UsageError) in
            c.keepImages = try integer(v, flag: f, in: 1...1000)
        },
        Option(flag: "--build-timeout", env: "SLIPWAY_BUILD_TIMEOUT", valueName: "SECONDS", help: "docker build time limit (default 900)") { c, v, f throws(UsageError) in
            c.buildTimeout = try integer(v, flag: f, in: 1...86400)
        },
        Option(flag: "--health-timeout", env: "SLIPWAY_HEALTH_TIMEOUT", valueName: "SECONDS", help: "time for a new container to pass its health check (default 60)") { c, v, f throws(UsageError) in
            c.healthTimeout = try integer(v, flag: f, in: 1...3600)
        },
        Option(flag: "--container-label", env: "SLIPWAY_CONTAINER_LABEL", valueName: "KEY=VALUE", help: "extra label on every container and image (repeatable)") { c, v, f throws(UsageError) in
            let parts = v.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, ![Naming.managedLabel, Naming.instanceLabel, Naming.appLabel, Naming.deploymentLabel].contains(String(parts[0])),
                  v.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: ",") }) else {
                throw UsageError(message: "\(f): expected KEY=VALUE without spaces or commas, got '\(v)'")
            }
            c.containerLabels.append((String(parts[0]), String(parts[1])))
        },
        Option(flag: "--github-api-url", env: "SLIPWAY_GITHUB_API_URL", valueName: "URL", help: "GitHub REST API for commit statuses (default https://api.github.com)") { c, v, f throws(UsageError) in
            guard v.hasPrefix("http://") || v.hasPrefix("https://"), !v.hasOccurrence(of: " ") else {
                throw UsageError(message: "\(f): expected an http:// or https:// URL, got '\(v)'")
            }
            c.githubAPIURL = v
        },
        Option(flag: "--github-host", env: "SLIPWAY_GITHUB_HOST", valueName: "HOST", help: "host whose repositories get commit statuses (default github.com)") { c, v, f throws(UsageError) in
            guard !v.isEmpty, !v.hasOccurrence(of: "/"), !v.hasOccurrence(of: " ") else { throw UsageError(message: "\(f): expected a host name, got '\(v)'") }
            c.githubHost = v
        },
        Option(flag: "--drain-timeout", env: "SLIPWAY_DRAIN_TIMEOUT", valueName: "SECONDS", help: "drain period for the old container's connections (default 10)") { c, v, f throws(UsageError) in
            c.drainTimeout = try integer(v, flag: f, in: 0...3600)
        },
        Option(flag: "--docker", env: "SLIPWAY_DOCKER", valueName: "PATH", help: "docker client to run (default: docker in PATH)") { c, v, f throws(UsageError) in
            guard !v.isEmpty, !v.contains("\0") else { throw UsageError(message: "\(f): expected the docker client's path or name") }
            c.dockerExecutable = v
        },
        Option(flag: "--builder", env: "SLIPWAY_BUILDER", valueName: "auto|buildkit|classic", help: "image builder (default auto: BuildKit when the docker client has it)") { c, v, f throws(UsageError) in
            guard let choice = ImageBuilder.Choice(rawValue: v) else {
                throw UsageError(message: "\(f): expected auto, buildkit or classic, got '\(v)'")
            }
            c.builder = choice
        },
        Option(flag: "--keep-deliveries", env: "SLIPWAY_KEEP_DELIVERIES", valueName: "N", help: "webhook deliveries without a deployment kept per app (default 1000)") { c, v, f throws(UsageError) in
            c.keepDeliveries = try integer(v, flag: f, in: 1...10_000_000)
        },
        Option(flag: "--webhook-body-limit", env: "SLIPWAY_WEBHOOK_BODY_LIMIT", valueName: "SIZE", help: "largest webhook delivery, e.g. 25m (default 25m, GitHub's own cap)") { c, v, f throws(UsageError) in
            c.webhookBodyLimit = try byteSize(v, flag: f, in: 1024...(1 << 30))
        },
        Option(flag: "--max-body-memory", env: "SLIPWAY_MAX_BODY_MEMORY", valueName: "SIZE", help: "request bodies in flight across all connections (default 256m; past it, 503)") { c, v, f throws(UsageError) in
            c.maxBodyMemory = try byteSize(v, flag: f, in: (1 << 20)...(1 << 40))
        },
        Option(flag: "--max-app-connections", env: "SLIPWAY_MAX_APP_CONNECTIONS", valueName: "N", help: "open connections per app port (default 1024; past it, 503)") { c, v, f throws(UsageError) in
            c.maxAppConnections = try integer(v, flag: f, in: 1...1_000_000)
        },
        Option(flag: "--http-port", env: "SLIPWAY_HTTP_PORT", valueName: "N", help: "port of the HTTP edge, which serves apps at their domains (default: off)") { c, v, f throws(UsageError) in
            c.httpPort = try integer(v, flag: f, in: 0...65535)
        },
        Option(flag: "--https-port", env: "SLIPWAY_HTTPS_PORT", valueName: "N", help: "port of the HTTPS edge, which serves apps at their domains with their certificates (default: off)") { c, v, f throws(UsageError) in
            c.httpsPort = try integer(v, flag: f, in: 0...65535)
        },
        Option(flag: "--acme-email", env: "SLIPWAY_ACME_EMAIL", valueName: "ADDRESS", help: "turns on certificates from ACME for the apps' domains, with this contact address (needs --http-port and --https-port)") { c, v, f throws(UsageError) in
            guard v.contains("@"), !v.contains(" "), v.utf8.count <= 254 else { throw UsageError(message: "\(f): expected an email address, got '\(v)'") }
            c.acmeEmail = v
        },
        Option(flag: "--acme-directory", env: "SLIPWAY_ACME_DIRECTORY", valueName: "URL", help: "the ACME CA's directory (default: Let's Encrypt's production directory)") { c, v, f throws(UsageError) in
            guard v.hasPrefix("https://") else { throw UsageError(message: "\(f): expected an https:// URL, got '\(v)'") }
            c.acmeDirectory = v
        },
        Option(flag: "--acme-ca-file", env: "SLIPWAY_ACME_CA_FILE", valueName: "FILE", help: "a PEM bundle to trust for the ACME CA's own HTTPS (default: the system's)") { c, v, f throws(UsageError) in
            c.acmeCAFile = v
        },
        Option(flag: "--acme-retry-seconds", env: "SLIPWAY_ACME_RETRY_SECONDS", valueName: "N", help: "the first wait after a failed ACME order, doubled at each failure up to a day (default 60)") { c, v, f throws(UsageError) in
            c.acmeRetrySeconds = try integer(v, flag: f, in: 1...86_400)
        },
        Option(flag: "--notify-retry-seconds", env: "SLIPWAY_NOTIFY_RETRY_SECONDS", valueName: "N", help: "the first wait after a notification a receiver did not take, doubled at each failure up to an hour, for a day (default 30)") { c, v, f throws(UsageError) in
            c.notificationRetrySeconds = try integer(v, flag: f, in: 1...3600)
        },
        Option(flag: "--dashboard-domain", env: "SLIPWAY_DASHBOARD_DOMAIN", valueName: "NAME", help: "host name at which the edge serves the dashboard, API and webhooks") { c, v, f throws(UsageError) in
            let name = v.lowercased()
            let labels = name.split(separator: ".", omittingEmptySubsequences: false)
            guard !name.isEmpty, name.utf8.count <= 253, labels.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 63 && !$0.hasPrefix("-") && !$0.hasSuffix("-") }),
                  name.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x2e }) else {
                throw UsageError(message: "\(f): expected a host name such as slipway.example.com, got '\(v)'")
            }
            c.dashboardDomain = name
        },
        Option(flag: "--max-request-body", env: "SLIPWAY_MAX_REQUEST_BODY", valueName: "SIZE", help: "largest request body the edge passes to an app (default 100m; past it, 413)") { c, v, f throws(UsageError) in
            c.maxRequestBody = try byteSize(v, flag: f, in: 1...(1 << 40))
        },
        Option(flag: "--upstream-timeout", env: "SLIPWAY_UPSTREAM_TIMEOUT", valueName: "SECONDS", help: "time the edge waits for an app to answer (default 60; past it, 504)") { c, v, f throws(UsageError) in
            c.upstreamTimeout = try integer(v, flag: f, in: 1...3600)
        },
    ]

    static func parse(_ arguments: [String], environment: [String: String]) throws(UsageError) -> Command {
        var config = Configuration()
        config.adminPassword = environment["SLIPWAY_ADMIN_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        config.apiToken = environment["SLIPWAY_API_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        try requireLength(config.adminPassword, minimumAdminPasswordLength, "SLIPWAY_ADMIN_PASSWORD")
        try requireLength(config.apiToken, minimumAPITokenLength, "SLIPWAY_API_TOKEN")
        // Like the API token, from the environment only: a flag's value is on the command line,
        // which every user of the machine can read in /proc.
        config.metricsToken = environment["SLIPWAY_METRICS_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        try requireLength(config.metricsToken, minimumAPITokenLength, "SLIPWAY_METRICS_TOKEN")
        for option in options {
            if let env = option.env, let value = environment[env], !value.isEmpty {
                try option.apply(&config, value, env)
            }
        }
        var args = arguments[...]
        if let first = args.first, !first.hasPrefix("-") {
            guard first == "serve" else { throw UsageError(message: "unknown command '\(first)' (try slipway --help)") }
            args = args.dropFirst()
        }
        while let arg = args.popFirst() {
            if arg == "--help" || arg == "-h" { return .help }
            if arg == "--version" || arg == "-V" { return .version }
            var name = arg
            var inline: String?
            if let eq = arg.firstIndex(of: "="), arg.hasPrefix("--") {
                name = String(arg[..<eq])
                inline = String(arg[arg.index(after: eq)...])
            }
            guard let option = options.first(where: { $0.flag == name }) else {
                throw UsageError(message: "unknown flag '\(name)' (try slipway --help)")
            }
            let value: String
            if option.valueName == nil {
                value = inline ?? "1"
            } else if let inline {
                value = inline
            } else {
                guard let next = args.popFirst() else { throw UsageError(message: "\(name): missing value") }
                value = next
            }
            try option.apply(&config, value, name)
        }
        if config.acmeEmail != nil && (config.httpPort == nil || config.httpsPort == nil) {
            throw UsageError(message: "--acme-email: certificates from ACME are proven on the HTTP edge and served by the HTTPS edge; set --http-port and --https-port too")
        }
        if config.dashboardDomain != nil && config.httpPort == nil {
            throw UsageError(message: "--dashboard-domain: the dashboard is served under it by the HTTP edge; set --http-port too")
        }
        config.applyEdgeDefaults()
        return .serve(config)
    }

    static var helpText: String {
        var text = """
        slipway \(version): a self-hosted continuous-deploy server

        Usage: slipway [serve] [flags]
               slipway --help | --version

        Flags (each also read from its environment variable; flags win):

        """
        // Help starts in column 30; a flag and value name too long for that get a line of their
        // own rather than being cut.
        let column = 28
        for option in options {
            let left = option.flag + (option.valueName.map { " " + $0 } ?? "")
            if left.utf8.count >= column {
                text += "  " + left + "\n" + String(repeating: " ", count: column + 2) + option.help
            } else {
                text += "  " + left.padded(toLength: column) + option.help
            }
            if let env = option.env { text += " [\(env)]" }
            text += "\n"
        }
        text += """

        Secrets (environment only): SLIPWAY_ADMIN_PASSWORD (at least \(minimumAdminPasswordLength) characters) and
        SLIPWAY_API_TOKEN (at least \(minimumAPITokenLength)). When unset on the first start, each is generated,
        stored as a hash and written once to DATA_DIR/\(InitialCredentialsFile.name) (mode 0600).

        """
        return text
    }

    /// 12 characters for a password a person picks and types (OWASP ASVS 2.1.1); 24 for a token
    /// that programs keep: 96 bits even as hex (generated tokens are 64 hex characters).
    static let minimumAdminPasswordLength = 12
    static let minimumAPITokenLength = 24

    /// Names the variable and the minimum; never the value.
    private static func requireLength(_ secret: String?, _ minimum: Int, _ variable: String) throws(UsageError) {
        guard let secret, secret.count < minimum else { return }
        throw UsageError(message: "\(variable): must be at least \(minimum) characters long")
    }

    private static func integer(_ v: String, flag: String, in range: ClosedRange<Int>) throws(UsageError) -> Int {
        guard let n = Int(v), range.contains(n) else {
            throw UsageError(message: "\(flag): expected an integer in \(range.lowerBound)-\(range.upperBound), got '\(v)'")
        }
        return n
    }

    /// A size in bytes, or with a k, m or g suffix for KiB, MiB or GiB ("25m"), as nginx writes them.
    static func byteSize(_ v: String, flag: String, in range: ClosedRange<Int>) throws(UsageError) -> Int {
        guard let n = ByteSize.parse(v), range.contains(n) else {
            throw UsageError(message: "\(flag): expected a size from \(range.lowerBound) to \(range.upperBound) bytes, such as 25m, got '\(v)'")
        }
        return n
    }

    private static func boolean(_ v: String, flag: String) throws(UsageError) -> Bool {
        switch v.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw UsageError(message: "\(flag): expected 1 or 0, got '\(v)'")
        }
    }
}
