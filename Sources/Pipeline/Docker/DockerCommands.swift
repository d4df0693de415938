/// Builds docker's argv, as Kamal's Commands do; the runtime runs them. Tests assert these exactly.
public enum DockerCommands {
    /// Build from a tar context on standard input, so only the committed tree is sent.
    /// Plain progress, since the output goes into a log file rather than a terminal.
    public static func build(tag: String, labels: [(String, String)], builder: ImageBuilder = .classic) -> [String] {
        let progress = builder == .buildkit ? ["--progress", "plain"] : []
        return ["build", "--quiet=false", "--force-rm"] + progress + ["--tag", tag] + labelArgs(labels) + ["-"]
    }

    public static func buildxVersion() -> [String] { ["buildx", "version"] }

    /// A Dockerfile that only adds `labels` to `image`, in one LABEL line: one step for the
    /// classic builder, which makes one per `--label`. Keys and values are quoted, `"` and `\`
    /// escaped; a line break cannot be carried and is refused.
    public static func labelDockerfile(image: String, labels: [(String, String)]) throws(ContainerError) -> [UInt8] {
        func quoted(_ text: String) throws(ContainerError) -> String {
            guard !text.utf8.contains(where: { $0 == 0x0a || $0 == 0x0d || $0 == 0 }) else {
                throw ContainerError(operation: "build", message: "label \(text.prefix(60).debugDescription) holds a line break")
            }
            var out = "\""
            for c in text {
                if c == "\"" || c == "\\" { out.append("\\") }
                out.append(c)
            }
            return out + "\""
        }
        var line = "LABEL"
        for (key, value) in labels { line += " \(try quoted(key))=\(try quoted(value))" }
        return Array("FROM \(image)\n\(line)\n".utf8)
    }
    public static func clientVersion() -> [String] { ["version", "--format", "{{.Client.Version}}"] }

    /// A detached container, published on loopback only, on a port docker picks. The app's env
    /// comes from `envFile` (see envFile(_:)): never `--env NAME=value`, which `ps` shows, nor
    /// `--env NAME`, which takes the value from the docker client's own environment, where
    /// DOCKER_HOST, DOCKER_CONFIG or LD_PRELOAD would steer the client itself.
    public static func run(_ spec: ContainerSpec, envFile: String?) -> [String] {
        var args = ["run", "--detach", "--name", spec.name]
        args += labelArgs(spec.labels)
        if let envFile { args += ["--env-file", envFile] }
        if let memory = spec.memoryMB { args += ["--memory", "\(memory)m", "--memory-swap", "\(memory)m"] }
        if let cpus = spec.cpus { args += ["--cpus", String(cpus)] }
        // Docker's init (tini) passes SIGTERM on to the app and reaps zombies: an app run as
        // `python app.py` ignores SIGTERM as PID 1, and every stop would wait the full timeout.
        if spec.initProcess { args.append("--init") }
        if let seconds = spec.stopTimeout { args += ["--stop-timeout", String(seconds)] }
        args += [
            "--pids-limit", String(spec.pidsLimit),
            "--restart", "unless-stopped",
            "--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3",
            "--security-opt", "no-new-privileges",
            "--publish", "\(spec.publishHost)::\(spec.internalPort)",
        ]
        // Names and paths are checked (`AppValidation.volumes`): none holds the ',' or '=' the
        // mount syntax separates with.
        args += spec.mounts.flatMap { ["--mount", "type=volume,source=\($0.source),target=\($0.target)"] }
        args += ["--", spec.image]
        return args
    }

    /// Makes the named volume, or leaves one of that name as it is (its labels too).
    public static func createVolume(_ name: String, labels: [(String, String)]) -> [String] {
        ["volume", "create"] + labelArgs(labels) + ["--", name]
    }

    public static func listVolumes(labels: [String]) -> [String] {
        ["volume", "ls"] + labels.flatMap { ["--filter", "label=\($0)"] } + ["--format", "{{.Name}}\t{{.Label \"\(Naming.appLabel)\"}}"]
    }

    public static func removeVolume(_ name: String) -> [String] { ["volume", "rm", "--", name] }

    /// Every volume's size, among the rest of the engine's disk use (one JSON array).
    public static func volumeSizes() -> [String] { ["system", "df", "--verbose", "--format", "{{json .Volumes}}"] }

    /// The text of an env file for `docker run --env-file`: one `NAME=value` line per variable.
    /// Docker's reader (tried with clients 20.10 and 28.2) takes the value after the first '='
    /// verbatim, spaces, '=' and '#' included; it only trims whitespace before the name and
    /// skips lines starting with '#', and names are letters, digits and '_'. What
    /// it cannot carry is a line break (or a NUL, which no environment can): refused here too,
    /// though AppValidation already refuses them, since one would smuggle in another variable.
    public static func envFile(_ env: [(String, String)]) throws(ContainerError) -> [UInt8] {
        var text = [UInt8]()
        for (name, value) in env {
            guard let first = name.utf8.first, first != UInt8(ascii: "#"),
                  !name.utf8.contains(where: { $0 <= 0x20 || $0 == UInt8(ascii: "=") || $0 == 0x7f }) else {
                throw ContainerError(operation: "run", message: "env: \(name.debugDescription) is not a variable name docker's env file can carry")
            }
            guard !value.utf8.contains(where: { $0 == 0x0a || $0 == 0x0d || $0 == 0 }) else {
                throw ContainerError(operation: "run", message: "env: the value of \(name) holds a line break or NUL")
            }
            text += Array(name.utf8) + [UInt8(ascii: "=")] + Array(value.utf8) + [0x0a]
        }
        return text
    }

    public static func inspectState(container: String) -> [String] {
        ["inspect", "--type", "container", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", "--", container]
    }

    /// One line per published port ("5000/tcp=127.0.0.1:49153,"), then "|" and the bridge addresses.
    public static func endpoints(container: String) -> [String] {
        ["inspect", "--type", "container", "--format",
         "{{range $p, $c := .NetworkSettings.Ports}}{{$p}}={{range $c}}{{.HostIp}}:{{.HostPort}},{{end}}\n{{end}}|{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
         "--", container]
    }

    public static func bridgeAddress(container: String) -> [String] {
        ["inspect", "--type", "container", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "--", container]
    }

    public static func start(container: String) -> [String] { ["start", "--", container] }
    public static func stop(container: String, seconds: Int) -> [String] { ["stop", "--time", String(seconds), "--", container] }
    public static func restart(container: String, seconds: Int) -> [String] { ["restart", "--time", String(seconds), "--", container] }
    public static func removeContainer(_ container: String) -> [String] { ["rm", "--force", "--volumes", "--", container] }
    /// Never forced: an image a container still uses is refused, where --force would only untag
    /// it and leave it behind without a name.
    public static func removeImage(_ image: String) -> [String] { ["rmi", "--", image] }
    public static func imageExists(_ image: String) -> [String] { ["image", "inspect", "--format", "{{.Id}}", "--", image] }
    public static func logs(container: String, tail: Int) -> [String] {
        ["logs", "--timestamps", "--tail", String(tail), "--", container]
    }

    /// Every container with the label, running or not, one per line: id, name, state, labels.
    /// Filters are ANDed, so one call can ask for "this app of this Slipway instance".
    public static func listContainers(labels: [String]) -> [String] {
        ["ps", "--all", "--no-trunc"] + labels.flatMap { ["--filter", "label=\($0)"] }
            + ["--format", "{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Labels}}\t{{.Ports}}"]
    }

    public static func listImages(labels: [String]) -> [String] {
        ["images"] + labels.flatMap { ["--filter", "label=\($0)"] } + ["--format", "{{.ID}} {{.Repository}}:{{.Tag}}"]
    }

    public static func info() -> [String] { ["info", "--format", "{{.ServerVersion}}"] }

    static func labelArgs(_ labels: [(String, String)]) -> [String] {
        labels.flatMap { ["--label", "\($0.0)=\($0.1)"] }
    }
}
