import FoundationEssentials
import Glibc
import SlipwaySystem

/// `slipway <command>`: the same binary as a client of a Slipway server's API. Exit codes: 0
/// done, 1 failed (the server refused, or a deployment failed), 2 usage, 3 cannot reach the
/// server or authenticate. `--json` prints the API's objects as they are.
struct ClientCLI {
    static let commands: Set<String> = ["login", "apps", "create", "deploy", "redeploy", "rollback", "deployments", "log", "logs",
                                        "env", "stop", "start", "restart", "delete", "open", "completion"]

    /// `slipway help COMMAND`.
    static let commandHelp: [String: String] = [
        "login": "slipway login URL\n  Saves the server's URL and the API token, read from standard input (never from the command line).\n",
        "apps": "slipway apps [--json]\n  The apps: name, status, URL and live deployment.\n",
        "create": "slipway create REPO [--name N] [--branch B] [--env K=V ...] [--domain D ...] [--json]\n  Creates an app and queues its first deployment; prints its webhook secret once.\n",
        "deploy": "slipway deploy APP [--ref REF] [--wait] [--json]\n  Deploys the branch head, or REF. --wait follows it and exits 1 if it fails; on a terminal it shows the steps as they finish, else the log.\n",
        "redeploy": "slipway redeploy APP [--wait] [--json]\n  Rebuilds and deploys the branch head.\n",
        "rollback": "slipway rollback APP [--to ID] [--wait] [--json]\n  Back to the previous successful deployment, or deployment ID, without a build.\n",
        "deployments": "slipway deployments APP [--json]\n  The app's deployments, newest first.\n",
        "log": "slipway log ID [-f]\n  A deployment's log; -f follows it until the deployment ends.\n",
        "logs": "slipway logs APP [-f] [--tail N]\n  The live container's output (the last N lines, 200 by default); -f goes on printing new lines.\n",
        "env": "slipway env APP [set K=V ... | unset K ...]\n  The app's env var names, or changes some (values are never shown).\n",
        "stop": "slipway stop|start|restart APP\n  Stops, starts or restarts the live container.\n",
        "delete": "slipway delete APP\n  Deletes the app and everything of it but its volumes.\n",
        "open": "slipway open APP\n  Prints the app's URL.\n",
        "completion": "slipway completion bash|zsh\n  A completion script: eval \"$(slipway completion bash)\" in ~/.bashrc, or the zsh one in ~/.zshrc.\n",
    ]

    let environment: [String: String]
    var out: (String) -> Void = { print($0) }
    var err: (String) -> Void = { PosixFile.writeAll(2, Array(($0 + "\n").utf8)) }

    struct Usage: Error { let message: String }

    static let help = """
        Usage: slipway COMMAND [arguments] [--json]

          login URL                  save the server's URL and API token (read from standard input)
          apps                       list the apps
          create REPO [--name N] [--branch B] [--env K=V ...] [--domain D ...]
          deploy APP [--ref REF] [--wait]
          redeploy APP [--wait]      rebuild and deploy the branch head
          rollback APP [--to ID] [--wait]
          deployments APP            the app's deployments
          log ID                     a deployment's log
          logs APP [--tail N]        the live container's output
          env APP [set K=V ... | unset K ...]
          stop|start|restart|delete APP
          open APP                   print the app's URL
          completion bash|zsh        a shell completion script
          help [COMMAND]             this, or one command's

        slipway serve --help lists the server's flags. SLIPWAY_URL and SLIPWAY_TOKEN override what login saved. --wait follows the deployment's
        log and exits 1 if it fails. Exit codes: 0 done, 1 failed, 2 usage, 3 cannot reach or
        authenticate.

        """

    func run(_ arguments: [String]) -> Int32 {
        do {
            return try dispatch(arguments)
        } catch let error as Usage {
            err("slipway: \(error.message) (try slipway help)")
            return 2
        } catch let error as APIClient.Unreachable {
            err("slipway: \(error.message)")
            return 3
        } catch let error as APIClient.Refused {
            err("slipway: \(error.message) (HTTP \(error.status))")
            return 1
        } catch {
            err("slipway: \(error)")
            return 1
        }
    }

    private func dispatch(_ arguments: [String]) throws -> Int32 {
        var args = arguments
        let json = args.contains("--json")
        args.removeAll { $0 == "--json" }
        guard let command = args.first else { throw Usage(message: "no command") }
        args.removeFirst()
        if command == "login" { return try login(args) }
        // Asked for only once the arguments are known good: a usage error is exit 2 either way.
        let environment = self.environment
        var api: APIClient {
            get throws {
                guard let config = ClientConfig.load(environment: environment) else {
                    throw APIClient.Unreachable(message: "no server: run slipway login URL, or set SLIPWAY_URL and SLIPWAY_TOKEN")
                }
                return APIClient(config: config)
            }
        }
        switch command {
        case "apps":
            let apps = try api.call("GET", "/api/apps")
            if json { out(apps.serialized()); return 0 }
            table(["NAME", "STATUS", "URL", "LIVE"], (apps.arrayValue ?? []).map {
                [$0["name"]?.stringValue ?? "", $0["status"]?.stringValue ?? "", $0["url"]?.stringValue ?? "-",
                 $0["live_deployment_id"]?.intValue.map(String.init) ?? "-"]
            })
        case "create":
            guard let repo = args.first, !repo.hasPrefix("-") else { throw Usage(message: "create: give the repository URL") }
            var body: [(String, JSON)] = [("repo_url", .string(repo))]
            var env: [(String, JSON)] = []
            var domains: [JSON] = []
            var rest = args.dropFirst()
            while let flag = rest.popFirst() {
                guard let value = rest.popFirst() else { throw Usage(message: "create: \(flag) needs a value") }
                switch flag {
                case "--name": body.append(("name", .string(value)))
                case "--branch": body.append(("branch", .string(value)))
                case "--domain": domains.append(.string(value))
                case "--env":
                    guard let eq = value.firstIndex(of: "=") else { throw Usage(message: "create: --env takes NAME=value") }
                    env.append((String(value[..<eq]), .string(String(value[value.index(after: eq)...]))))
                default: throw Usage(message: "create: unknown option \(flag)")
                }
            }
            if !env.isEmpty { body.append(("env", .object(env))) }
            if !domains.isEmpty { body.append(("domains", .array(domains))) }
            let app = try api.call("POST", "/api/apps", .object(body))
            if json { out(app.serialized()); return 0 }
            out("created \(app["name"]?.stringValue ?? "")" + (app["deployment_id"]?.intValue.map { "; deployment \($0) queued" } ?? ""))
            if let secret = app["webhook_secret"]?.stringValue { out("webhook secret (shown once): \(secret)") }
        case "deploy", "redeploy", "rollback":
            let app = try appName(command, &args)
            var wait = false
            var body: [(String, JSON)] = []
            while let flag = args.first {
                args.removeFirst()
                switch flag {
                case "--wait": wait = true
                case "--ref" where command == "deploy":
                    guard !args.isEmpty else { throw Usage(message: "--ref needs a value") }
                    body.append(("ref", .string(args.removeFirst())))
                case "--to" where command == "rollback":
                    guard let id = args.first.flatMap({ Int($0) }) else { throw Usage(message: "--to needs a deployment id") }
                    args.removeFirst()
                    body.append(("deployment_id", .from(id)))
                default: throw Usage(message: "\(command): unknown option \(flag)")
                }
            }
            let path = command == "deploy" ? "/api/apps/\(app)/deployments" : "/api/apps/\(app)/\(command)"
            let deployment = try api.call("POST", path, body.isEmpty ? nil : .object(body))
            guard let id = deployment["id"]?.intValue else { throw APIClient.Refused(status: 0, message: "no deployment id in the answer") }
            if !wait {
                if json { out(deployment.serialized()) } else { out("deployment \(id) queued") }
                return 0
            }
            return try follow(try api, deployment: id, json: json, progress: isatty(1) == 1)
        case "deployments":
            let app = try appName(command, &args)
            let list = try api.call("GET", "/api/apps/\(app)/deployments")
            if json { out(list.serialized()); return 0 }
            table(["ID", "STATUS", "TRIGGER", "COMMIT", "CREATED"], (list.arrayValue ?? []).map {
                [$0["id"]?.intValue.map(String.init) ?? "", $0["status"]?.stringValue ?? "", $0["trigger"]?.stringValue ?? "",
                 String(($0["commit_sha"]?.stringValue ?? "-").prefix(7)), $0["created_at"]?.stringValue ?? ""]
            })
        case "log":
            guard let id = args.first.flatMap({ Int($0) }) else { throw Usage(message: "log: give a deployment id") }
            if args.dropFirst().contains("-f") { _ = try follow(try api, deployment: id, json: false, progress: false); return 0 }
            out(String(decoding: try api.raw("GET", "/api/deployments/\(id)/log"), as: UTF8.self), terminator: "")
        case "logs":
            let app = try appName(command, &args)
            var tail = 200
            var following = false
            while let flag = args.first {
                args.removeFirst()
                switch flag {
                case "-f": following = true
                case "--tail":
                    guard let n = args.first.flatMap({ Int($0) }) else { throw Usage(message: "--tail needs a number") }
                    args.removeFirst()
                    tail = n
                default: throw Usage(message: "logs: unknown option \(flag)")
                }
            }
            let client = try api
            var seen = Set<String>()
            var last = ""
            while true {
                let text = String(decoding: try client.raw("GET", "/api/apps/\(app)/logs?tail=\(tail)"), as: UTF8.self)
                // Lines carry Docker's timestamps: each is printed once, the later ones in order.
                for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) where !line.isEmpty {
                    guard line >= last, seen.insert(line).inserted else { continue }
                    out(line)
                    last = line
                }
                guard following else { return 0 }
                if seen.count > 10_000 { seen = Set(seen.filter { $0 >= last }) }
                usleep(500_000)
            }
        case "env":
            let app = try appName(command, &args)
            let current = try api.call("GET", "/api/apps/\(app)")
            guard let verb = args.first else {
                let keys = current["env_keys"]?.arrayValue?.compactMap(\.stringValue) ?? []
                if json { out(JSON.array(keys.map(JSON.string)).serialized()) } else { keys.forEach { out($0) } }
                return 0
            }
            args.removeFirst()
            // The API replaces the whole set, and values are never read back: set and unset
            // send the change only through PATCH's env, so they need the values it keeps.
            var changes: [(String, JSON)] = []
            switch verb {
            case "set":
                for pair in args {
                    guard let eq = pair.firstIndex(of: "=") else { throw Usage(message: "env set takes NAME=value") }
                    changes.append((String(pair[..<eq]), .string(String(pair[pair.index(after: eq)...]))))
                }
                _ = try api.call("PATCH", "/api/apps/\(app)/env", .object([("set", .object(changes))]))
            case "unset":
                _ = try api.call("PATCH", "/api/apps/\(app)/env", .object([("unset", .array(args.map(JSON.string)))]))
            default: throw Usage(message: "env: set or unset")
            }
            out("env of \(app) changed; it takes effect with the next deployment")
        case "stop", "start", "restart":
            let app = try appName(command, &args)
            let result = try api.call("POST", "/api/apps/\(app)/\(command)")
            if json { out(result.serialized()) } else { out("\(app): \(result["status"]?.stringValue ?? command)") }
        case "delete":
            let app = try appName(command, &args)
            _ = try api.raw("DELETE", "/api/apps/\(app)")
            if !json { out("deleted \(app)") }
        case "completion":
            guard let shell = args.first, let script = Completion.script(for: shell) else { throw Usage(message: "completion: bash or zsh") }
            out(script, terminator: "")
        case "open":
            let app = try appName(command, &args)
            let shown = try api.call("GET", "/api/apps/\(app)")
            guard let url = shown["url"]?.stringValue else { throw APIClient.Refused(status: 0, message: "\(app) has no URL: no port and no exact domain") }
            out(url)
        default:
            throw Usage(message: "unknown command '\(command)'")
        }
        return 0
    }

    /// Follows the deployment until it ends; 0 when it succeeded. Not on a terminal (a CI
    /// pipeline's log), the deployment's log as it grows; on a terminal (`progress`), a line per
    /// step as it finishes and the step in progress, the log's last lines when it failed.
    private func follow(_ api: APIClient, deployment id: Int, json: Bool, progress: Bool) throws -> Int32 {
        var printed = 0
        var shownSteps = 0
        while true {
            let deployment = try api.call("GET", "/api/deployments/\(id)")
            let status = deployment["status"]?.stringValue ?? ""
            if progress && !json {
                let steps = deployment["steps"]?.objectValue ?? []
                for (name, ms) in steps.dropFirst(shownSteps) {
                    out("\r\u{1B}[2K✓ \(name) \(String(format1: (ms.numberValue ?? 0) / 1000)) s")
                }
                shownSteps = steps.count
                PosixFile.writeAll(1, Array("\r\u{1B}[2K… \(status)".utf8))
            } else if !json {
                let log = try api.raw("GET", "/api/deployments/\(id)/log")
                if log.count > printed {
                    out(String(decoding: log[printed...], as: UTF8.self), terminator: "")
                    printed = log.count
                }
            }
            if ["succeeded", "failed", "cancelled", "superseded", "interrupted", "skipped"].contains(status) {
                if progress && !json {
                    PosixFile.writeAll(1, Array("\r\u{1B}[2K".utf8))
                    if status != "succeeded", let error = deployment["error"]?.stringValue { out("✗ \(error)") }
                }
                if json { out(deployment.serialized()) } else { out("deployment \(id) \(status)") }
                return status == "succeeded" ? 0 : 1
            }
            usleep(300_000)
        }
    }

    private func login(_ args: [String]) throws -> Int32 {
        guard let url = args.first, url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw Usage(message: "login: give the server's URL, such as https://deploy.example.com")
        }
        // The token from standard input, never from the command line (ps would show it).
        guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw Usage(message: "login: the API token is read from standard input") }
        let config = ClientConfig(url: ClientConfig.trimmed(url), token: line)
        _ = try APIClient(config: config).call("GET", "/api/apps")
        try config.save(environment: environment)
        out("logged in to \(config.url); saved in \(ClientConfig.path(environment: environment))")
        return 0
    }

    private func appName(_ command: String, _ args: inout [String]) throws -> String {
        guard let name = args.first, !name.hasPrefix("-") else { throw Usage(message: "\(command): give the app's name") }
        args.removeFirst()
        return name
    }

    private func out(_ text: String, terminator: String) {
        if terminator.isEmpty { PosixFile.writeAll(1, Array(text.utf8)) } else { out(text) }
    }

    private func table(_ header: [String], _ rows: [[String]]) {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        for row in all {
            out(row.enumerated().map { $0.element.padding(toLength: widths[$0.offset]) }.joined(separator: "  ")
                .trimmingTrailingSpaces())
        }
    }
}

private extension String {
    /// One decimal, as the steps' durations are shown.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }

    func padding(toLength length: Int) -> String { count >= length ? self : self + String(repeating: " ", count: length - count) }
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }
}
