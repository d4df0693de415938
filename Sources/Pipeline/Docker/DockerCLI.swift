import SlipwaySystem
/// ContainerRuntime over the docker command-line client.
public struct DockerCLI: ContainerRuntime {
    public let runner: any ProcessRunner
    public let executable: String
    /// Where `run` writes each container's env file, for the moment `docker run` reads it.
    public let runDirectory: RunDirectory
    private let builders: ImageBuilderProbe
    /// This machine's engine, or another server's over SSH.
    public let endpoint: DockerEndpoint

    public init(runner: any ProcessRunner, executable: String = "docker", builder: ImageBuilder.Choice = .auto,
                runDirectory: RunDirectory, endpoint: DockerEndpoint = .local) {
        self.runner = runner
        self.executable = executable
        self.runDirectory = runDirectory
        self.builders = ImageBuilderProbe(choice: builder)
        self.endpoint = endpoint
    }

    /// A docker command to this runtime's engine.
    private func spec(_ args: [String], environment: [String: String] = [:], stdin: String? = nil) -> ProcessSpec {
        ProcessSpec(executable, endpoint.arguments + args, environment: endpoint.environment.merging(environment) { $1 },
                    standardInputPath: stdin)
    }

    @discardableResult
    private func docker(_ args: [String], operation: String, timeout: Double = 120, env: [String: String] = [:],
                        stdin: String? = nil) throws -> String {
        let result = try runner.run(self.spec(args, environment: env, stdin: stdin), timeoutSeconds: timeout)
        guard result.termination.isSuccess else {
            throw ContainerError(operation: operation, message: Self.lastLines(result.output, 3))
        }
        return result.output
    }

    static func lastLines(_ text: String, _ count: Int) -> String {
        text.split(separator: "\n").suffix(count).joined(separator: " | ")
    }

    public func build(tag: String, labels: [(String, String)], contextTar: String, timeoutSeconds: Double,
                      log: DeploymentLog, cancellation: Cancellation?) throws {
        let choice = builders.builder(docker: executable, runner: runner)
        log.line(choice.logLine)
        guard choice.builder == .classic else {
            try runBuild(tag: tag, labels: labels, input: contextTar, builder: .buildkit, timeoutSeconds: timeoutSeconds, log: log,
                         cancellation: cancellation)
            return
        }
        // The classic builder: the app's image without labels (so an unchanged commit is fully
        // cached), then one LABEL step on top of it, and the first tag dropped.
        let unlabelled = tag + "-unlabelled"
        try runBuild(tag: unlabelled, labels: [], input: contextTar, builder: .classic, timeoutSeconds: timeoutSeconds, log: log,
                     cancellation: cancellation)
        // Whatever happens next: the unlabelled image carries no app label, so nothing would
        // ever find it to remove (a labelled image on top keeps its layers).
        defer { _ = try? runner.run(self.spec(DockerCommands.removeImage(unlabelled)), timeoutSeconds: 60) }
        // Written by the runner for the moment the build runs, and removed after, as an env file is.
        let dockerfile = runDirectory.newFile("labels", contents: try DockerCommands.labelDockerfile(image: unlabelled, labels: labels))
        log.line("adding the labels in one step")
        try runBuild(tag: tag, labels: [], input: dockerfile.path, builder: .classic, timeoutSeconds: 120, log: log, cancellation: cancellation,
                     files: [dockerfile])
    }

    private func runBuild(tag: String, labels: [(String, String)], input: String, builder: ImageBuilder, timeoutSeconds: Double,
                          log: DeploymentLog, cancellation: Cancellation?, files: [ProcessSecretFile] = []) throws {
        var spec = self.spec(DockerCommands.build(tag: tag, labels: labels, builder: builder),
                             environment: builder.environment, stdin: input)
        spec.pidFile = input + ".pid"
        spec.secretFiles = files
        log.command(spec)
        let filter = LegacyBuilderNotice()
        let result = try runner.run(spec, timeoutSeconds: timeoutSeconds, cancellation: cancellation) { line in
            if !filter.drops(line) { log.output(line) }
        }
        if result.cancelled { throw DeploymentCancelled() }
        if result.timedOut { throw ContainerError(operation: "build", message: "timed out after \(Int(timeoutSeconds)) s") }
        guard result.termination.isSuccess else {
            throw ContainerError(operation: "build", message: Self.lastLines(result.output, 1))
        }
    }

    public func run(_ spec: ContainerSpec, env: [(String, String)], log: DeploymentLog) throws -> String {
        // The env reaches the container through a 0600 file that exists only while `docker run`
        // does, and never the client's own environment (see DockerCommands.run).
        for mount in spec.mounts {
            // Made here with Slipway's labels, rather than by `docker run` without any.
            let made = try runner.run(self.spec(DockerCommands.createVolume(mount.source, labels: mount.labels)), timeoutSeconds: 60)
            guard made.termination.isSuccess else {
                throw ContainerError(operation: "volume create", message: "\(mount.source): " + Self.lastLines(made.output, 2))
            }
        }
        let envFile = env.isEmpty ? nil : runDirectory.newFile("env", contents: try DockerCommands.envFile(env))
        var process = self.spec(DockerCommands.run(spec, envFile: envFile?.path))
        process.secretFiles = envFile.map { [$0] } ?? []
        if !env.isEmpty { log.line("env: \(env.map(\.0).joined(separator: ", "))") }
        log.command(process)
        let result = try runner.run(process, timeoutSeconds: 120)
        guard result.termination.isSuccess else {
            throw ContainerError(operation: "run", message: Self.lastLines(result.output, 2))
        }
        return result.output.trimmingWhitespaceAndNewlines().split(separator: "\n").last.map(String.init) ?? ""
    }

    public func bridgeAddress(container: String) -> String? {
        guard let out = try? docker(DockerCommands.bridgeAddress(container: container), operation: "inspect", timeout: 15) else { return nil }
        return Self.ipv4(out)
    }

    /// One `docker inspect` instead of `docker port` and another inspect: each docker call costs
    /// tens of milliseconds, and a deployment waits for both (benchmark 1).
    public func endpoints(container: String, internalPort: Int) throws -> ContainerEndpoints {
        let out = try docker(DockerCommands.endpoints(container: container), operation: "inspect")
        guard let parsed = Self.endpoints(fromInspect: out, internalPort: internalPort) else {
            throw ContainerError(operation: "port", message: "no published port for \(internalPort)/tcp")
        }
        return parsed
    }

    static func endpoints(fromInspect text: String, internalPort: Int) -> ContainerEndpoints? {
        guard let bar = text.lastIndex(of: "|") else { return nil }
        let key = "\(internalPort)/tcp="
        for line in text[..<bar].split(separator: "\n") where line.hasPrefix(key) {
            for binding in line.dropFirst(key.count).split(separator: ",") {
                if let colon = binding.lastIndex(of: ":"), let port = Int(binding[binding.index(after: colon)...]), port > 0 {
                    return ContainerEndpoints(hostPort: port, bridge: ipv4(String(text[text.index(after: bar)...])))
                }
            }
        }
        return nil
    }

    /// The first address in a space-separated list, if it is a plain dotted IPv4 address; anything
    /// else falls back to the published port.
    static func ipv4(_ list: String) -> String? {
        let address = list.split(separator: " ").first.map { $0.trimmingWhitespaceAndNewlines() } ?? ""
        let parts = address.split(separator: ".")
        guard parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) else { return nil }
        return address
    }

    public func state(container: String) throws -> ContainerState? {
        let result = try runner.run(self.spec(DockerCommands.inspectState(container: container)), timeoutSeconds: 30)
        guard result.termination.isSuccess else {
            if result.output.lowercased().hasOccurrence(of: "no such") { return nil }
            throw ContainerError(operation: "inspect", message: Self.lastLines(result.output, 1))
        }
        let parts = result.output.trimmingWhitespaceAndNewlines().split(separator: " ")
        guard parts.count >= 2 else { return nil }
        // A container its restart policy brought back has exited at least once: report it as
        // restarting, since for a new deployment that is a failure, not health. Its exit code
        // was reset to 0 by the restart, so it is not known any more.
        let exitCode = Int(parts[1])
        if parts[0] == "running", parts.count > 2, let restarts = Int(parts[2]), restarts > 0 {
            return ContainerState(status: .restarting, exitCode: nil)
        }
        return ContainerState(status: .init(engine: parts[0]), exitCode: exitCode)
    }

    public func start(container: String) throws { try docker(DockerCommands.start(container: container), operation: "start") }

    public func stop(container: String, graceSeconds: Int) throws {
        try docker(DockerCommands.stop(container: container, seconds: graceSeconds), operation: "stop", timeout: Double(graceSeconds + 30))
    }

    public func remove(container: String) throws {
        let result = try runner.run(self.spec(DockerCommands.removeContainer(container)), timeoutSeconds: 60)
        if !result.termination.isSuccess && !result.output.lowercased().hasOccurrence(of: "no such") {
            throw ContainerError(operation: "rm", message: Self.lastLines(result.output, 1))
        }
    }

    @discardableResult
    public func removeImage(_ image: String) throws -> ImageRemoval {
        let result = try runner.run(self.spec(DockerCommands.removeImage(image)), timeoutSeconds: 60)
        if result.termination.isSuccess { return .removed }
        if result.output.lowercased().hasOccurrence(of: "no such") { return .absent }
        throw ContainerError(operation: "rmi", message: Self.lastLines(result.output, 1))
    }

    public func imageExists(_ image: String) -> Bool {
        (try? runner.run(self.spec(DockerCommands.imageExists(image)), timeoutSeconds: 30).termination.isSuccess) ?? false
    }

    public func logs(container: String, tail: Int) throws -> String {
        try docker(DockerCommands.logs(container: container, tail: tail), operation: "logs")
    }

    public func containers(labels: [String]) throws -> [ContainerInfo] {
        let out = try docker(DockerCommands.listContainers(labels: labels), operation: "ps")
        return out.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count >= 4 else { return nil }
            var labels = [String: String]()
            for pair in fields[3].split(separator: ",") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { labels[String(kv[0])] = String(kv[1]) }
            }
            return ContainerInfo(id: String(fields[0]), name: String(fields[1]), running: fields[2] == "running", labels: labels,
                                 hostPort: fields.count > 4 ? Self.hostPort(fromPorts: String(fields[4])) : nil)
        }
    }

    public func images(labels: [String]) throws -> [ImageInfo] {
        try docker(DockerCommands.listImages(labels: labels), operation: "images").split(separator: "\n").compactMap(ImageInfo.init(listed:))
    }

    public func volumes(labels: [String]) throws -> [VolumeInfo] {
        try docker(DockerCommands.listVolumes(labels: labels), operation: "volume ls").split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard let name = fields.first, !name.isEmpty else { return nil }
            return VolumeInfo(name: String(name), app: fields.count > 1 ? String(fields[1]) : "")
        }
    }

    public func volumeSizes() throws -> [String: String] {
        let out = try docker(DockerCommands.volumeSizes(), operation: "system df", timeout: 120)
        var sizes: [String: String] = [:]
        for volume in (try? JSONParser.parse(out.trimmingWhitespaceAndNewlines()))?.arrayValue ?? [] {
            if let name = volume["Name"]?.stringValue, let size = volume["Size"]?.stringValue { sizes[name] = size }
        }
        return sizes
    }

    public func removeVolume(_ name: String) throws {
        try docker(DockerCommands.removeVolume(name), operation: "volume rm")
    }

    /// "127.0.0.1:49153->5000/tcp" → 49153.
    static func hostPort(fromPorts text: String) -> Int? {
        for mapping in text.split(separator: ",") {
            guard let arrow = mapping.firstOccurrence(of: "->") else { continue }
            let left = mapping[..<arrow.lowerBound]
            if let colon = left.lastIndex(of: ":"), let port = Int(left[left.index(after: colon)...]) { return port }
        }
        return nil
    }

    public func isAvailable() -> Bool {
        (try? runner.run(self.spec(DockerCommands.info()), timeoutSeconds: 15).termination.isSuccess) ?? false
    }
}
