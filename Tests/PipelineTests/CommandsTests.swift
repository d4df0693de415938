import Synchronization
import XCTest
@testable import Pipeline

final class CommandsTests: XCTestCase {
    func testDockerRunArgv() {
        let spec = ContainerSpec(name: "slipway-web-7", image: "slipway/web:7", labels: [("slipway.app", "web"), ("slipway.deployment", "7")],
                                 envNames: ["SECRET", "MODE"], internalPort: 5000, memoryMB: 256, cpus: 0.5)
        XCTAssertEqual(DockerCommands.run(spec, envFile: "/data/run/env-0123"), [
            "run", "--detach", "--name", "slipway-web-7",
            "--label", "slipway.app=web", "--label", "slipway.deployment=7",
            "--env-file", "/data/run/env-0123",
            "--memory", "256m", "--memory-swap", "256m", "--cpus", "0.5", "--init",
            "--pids-limit", "512", "--restart", "unless-stopped",
            "--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3",
            "--security-opt", "no-new-privileges",
            "--publish", "127.0.0.1::5000",
            "--", "slipway/web:7",
        ])
    }

    /// Env reaches `docker run` only through the file: no `--env` at all, so no value, and no
    /// An app that opts out of the init process runs its own PID 1; a stop timeout of its own
    /// is Docker's too (an engine shutdown stops containers with it).
    func testDockerRunWithoutInitAndWithAStopTimeout() {
        var spec = ContainerSpec(name: "n", image: "i", labels: [], envNames: [], internalPort: 80)
        spec.initProcess = false
        spec.stopTimeout = 30
        let args = DockerCommands.run(spec, envFile: nil)
        XCTAssertFalse(args.contains("--init"))
        XCTAssertEqual(args.firstIndex(of: "--stop-timeout").map { args[$0 + 1] }, "30")
    }

    /// Volumes go in as --mount (a named volume, never a bind of the host), and are made first
    /// with the app's labels.
    func testDockerRunMountsNamedVolumes() {
        var spec = ContainerSpec(name: "n", image: "i", labels: [], envNames: [], internalPort: 80)
        spec.mounts = [VolumeMount(source: "slipway-web-data", target: "/app/data", labels: [("slipway.app", "web")])]
        let args = DockerCommands.run(spec, envFile: nil)
        XCTAssertEqual(Array(args.suffix(4)), ["--mount", "type=volume,source=slipway-web-data,target=/app/data", "--", "i"])
        XCTAssertEqual(DockerCommands.createVolume("slipway-web-data", labels: [("slipway.app", "web")]),
                       ["volume", "create", "--label", "slipway.app=web", "--", "slipway-web-data"])
        XCTAssertEqual(DockerCommands.removeVolume("slipway-web-data"), ["volume", "rm", "--", "slipway-web-data"])
    }

    /// name the client would look up in its own environment.
    func testDockerRunNeverCarriesEnv() {
        let spec = ContainerSpec(name: "n", image: "i", labels: [], envNames: ["TOKEN", "DOCKER_HOST"], internalPort: 80)
        for args in [DockerCommands.run(spec, envFile: "/d/run/env-1"), DockerCommands.run(spec, envFile: nil)] {
            XCTAssertFalse(args.contains { $0 == "--env" || $0 == "-e" || $0.hasPrefix("TOKEN") || $0.hasPrefix("DOCKER_HOST") }, "\(args)")
        }
        XCTAssertFalse(DockerCommands.run(spec, envFile: nil).contains("--env-file"), "no env, no file")
    }

    /// One NAME=value line each, the value byte for byte: docker's reader keeps everything after
    /// the first '=' (tried with clients 20.10 and 28.2; the E2E suite checks it in a container).
    func testEnvFileCarriesValuesVerbatim() throws {
        let env = [("DOCKER_HOST", "tcp://127.0.0.1:9"), ("SPACES", "  lead = and # hash  "), ("EMPTY", ""),
                   ("HASH", "#not a comment"), ("UNICODE", "é\tü")]
        let text = try DockerCommands.envFile(env)
        XCTAssertEqual(String(decoding: text, as: UTF8.self),
                       "DOCKER_HOST=tcp://127.0.0.1:9\nSPACES=  lead = and # hash  \nEMPTY=\nHASH=#not a comment\nUNICODE=é\tü\n")
        XCTAssertEqual(try DockerCommands.envFile([]), [])
    }

    /// A line break would start another variable; a name docker would trim or skip is no name.
    func testEnvFileRefusesWhatItCannotCarry() {
        for (name, value) in [("A", "x\nB=injected"), ("A", "x\rB"), ("A", "x\u{0}"), (" A", "x"), ("#A", "x"), ("A=B", "x"), ("", "x")] {
            XCTAssertThrowsError(try DockerCommands.envFile([(name, value)]), "\(name.debugDescription)=\(value.debugDescription)") { error in
                XCTAssertFalse("\(error)".contains("injected"), "the error does not echo the value: \(error)")
            }
        }
    }

    func testDockerBuildReadsTheContextFromStandardInput() {
        XCTAssertEqual(DockerCommands.build(tag: "slipway/web:3", labels: [("slipway.app", "web")]),
                       ["build", "--quiet=false", "--force-rm", "--tag", "slipway/web:3", "--label", "slipway.app=web", "-"])
        XCTAssertEqual(DockerCommands.build(tag: "slipway/web:3", labels: [("slipway.app", "web")], builder: .buildkit),
                       ["build", "--quiet=false", "--force-rm", "--progress", "plain", "--tag", "slipway/web:3",
                        "--label", "slipway.app=web", "-"])
    }

    func testDockerListingsFilterByEveryLabel() {
        XCTAssertEqual(DockerCommands.listImages(labels: ["a=1", "b=2"]),
                       ["images", "--filter", "label=a=1", "--filter", "label=b=2", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"])
        XCTAssertEqual(DockerCommands.removeContainer("x"), ["rm", "--force", "--volumes", "--", "x"])
        XCTAssertEqual(DockerCommands.stop(container: "x", seconds: 10), ["stop", "--time", "10", "--", "x"])
    }

    func testPortsColumnParsing() {
        XCTAssertEqual(DockerCLI.hostPort(fromPorts: "127.0.0.1:49153->5000/tcp"), 49153)
        XCTAssertEqual(DockerCLI.hostPort(fromPorts: ""), nil)
        XCTAssertEqual(DockerCLI.hostPort(fromPorts: "5000/tcp"), nil)
    }

    func testGitCloneSeparatesTheURL() {
        let args = GitCommands.cloneMirror(url: "https://example.com/r.git", into: "/data/repos/r.git")
        XCTAssertEqual(Array(args.suffix(3)), ["--", "https://example.com/r.git", "/data/repos/r.git"])
        XCTAssertTrue(args.contains("--no-recurse-submodules"))
        XCTAssertTrue(args.contains("credential.helper="))
        XCTAssertTrue(args.contains("--no-hardlinks"), "a local repository is copied: no inode shared with it")
    }

    /// Every git call carries the same options: no credential helper, submodules, hooks or ext::,
    /// no redirects (a server must not hand the clone and its token elsewhere) and fsck of every
    /// object fetched.
    func testGitBaseOptionsExactly() {
        let base = ["-c", "credential.helper=", "-c", "submodule.recurse=false", "-c", "core.hooksPath=/dev/null",
                    "-c", "protocol.ext.allow=never", "-c", "http.followRedirects=false", "-c", "transfer.fsckObjects=true"]
        XCTAssertEqual(GitCommands.cloneMirror(url: "https://example.com/r.git", into: "/d/r.git"),
                       base + ["clone", "--mirror", "--no-hardlinks", "--no-recurse-submodules", "--quiet", "--", "https://example.com/r.git", "/d/r.git"])
        XCTAssertEqual(GitCommands.fetch(mirror: "/d/r.git"),
                       base + ["--git-dir", "/d/r.git", "fetch", "--prune", "--no-recurse-submodules", "--quiet", "origin"])
        XCTAssertEqual(GitCommands.fetchCommit(mirror: "/d/r.git", sha: "abc"),
                       base + ["--git-dir", "/d/r.git", "fetch", "--no-recurse-submodules", "--quiet", "origin", "--", "abc"])
        XCTAssertEqual(GitCommands.setRemote(mirror: "/d/r.git", url: "u"), base + ["--git-dir", "/d/r.git", "remote", "set-url", "origin", "--", "u"])
        XCTAssertEqual(GitCommands.version(), ["--version"])
    }

    func testGitRevisionsComeAfterEndOfOptions() {
        let args = GitCommands.resolve(mirror: "/m", revision: "--upload-pack=evil")
        XCTAssertEqual(Array(args.suffix(2)), ["--end-of-options", "--upload-pack=evil^{commit}"])
        XCTAssertEqual(GitCommands.setRemote(mirror: "/m", url: "u").suffix(2), ["--", "u"])
    }

    func testGitEnvironmentNeverPrompts() {
        let env = GitCommands.environment(allowLocal: false)
        XCTAssertEqual(env["GIT_TERMINAL_PROMPT"], "0")
        XCTAssertEqual(env["GIT_ALLOW_PROTOCOL"], "https:http:ssh")
        XCTAssertNil(env["GIT_CONFIG_COUNT"])
        XCTAssertEqual(GitCommands.environment(allowLocal: true)["GIT_ALLOW_PROTOCOL"], "https:http:ssh:file")
    }

    /// The environment only names the credentials file; the token is in the file.
    func testGitCredentialsTravelInAFileTheEnvironmentNames() {
        let env = GitCommands.environment(allowLocal: false, credentials: "/data/run/git-credentials-1")
        XCTAssertEqual(env["GIT_CONFIG_COUNT"], "1")
        XCTAssertEqual(env["GIT_CONFIG_KEY_0"], "include.path")
        XCTAssertEqual(env["GIT_CONFIG_VALUE_0"], "/data/run/git-credentials-1")
        // base64("x-access-token:tok123")
        XCTAssertEqual(String(decoding: GitCommands.credentialsConfig(token: "tok123"), as: UTF8.self),
                       "[http]\n\textraHeader = Authorization: Basic eC1hY2Nlc3MtdG9rZW46dG9rMTIz\n")
    }

    /// curl's words for a 3xx that git did not follow become a message that says what happened.
    func testGitFailureNamesARedirect() {
        let redirected = "Cloning into bare repository 'm'...\nfatal: unable to access 'http://h/r.git/': The requested URL returned error: 301\n"
        let reason = GitFailureReason.from(output: redirected)
        XCTAssertTrue(reason.hasPrefix("fatal: unable to access 'http://h/r.git/': The requested URL returned error: 301 (the server answered with a redirect, HTTP 301;"), reason)
        XCTAssertTrue(reason.contains("does not follow redirects"), reason)
        for status in [302, 303, 307, 308] {
            XCTAssertEqual(GitFailureReason.redirectStatus(in: "fatal: x: The requested URL returned error: \(status)"), status)
        }
        XCTAssertNil(GitFailureReason.redirectStatus(in: "fatal: unable to access 'x': The requested URL returned error: 404"))
        XCTAssertEqual(GitFailureReason.from(output: "error: object 1: missingEmail\nfatal: fsck error in packed object\nfatal: fetch-pack: invalid index-pack output\n"),
                       "fatal: fsck error in packed object")
        XCTAssertEqual(GitFailureReason.from(output: "something\nlast words\n"), "last words")
    }

    func testGitVersionParsing() {
        let cases: [(String, GitVersion?)] = [
            ("git version 2.39.5\n", GitVersion(2, 39, 5)),
            ("git version 2.30.2", GitVersion(2, 30, 2)),
            ("git version 2.45.1.windows.1", GitVersion(2, 45, 1)),
            ("git version 2.39.3 (Apple Git-146)", GitVersion(2, 39, 3)),
            ("git version 2.43.0-rc1", GitVersion(2, 43, 0)),
            ("git version 3.0", GitVersion(3, 0, 0)),
            ("git version 2", nil),
            ("git version x.y.z", nil),
            ("version 2.39.5", nil),
            ("", nil),
            ("bash: git: command not found", nil),
        ]
        for (output, expected) in cases {
            XCTAssertEqual(GitVersion.parse(output), expected, output)
        }
        XCTAssertLessThan(GitVersion(2, 38, 9), GitVersion.recommendedMinimum)
        XCTAssertFalse(GitVersion(2, 39, 0) < GitVersion.recommendedMinimum)
        XCTAssertLessThan(GitVersion(2, 39, 5), GitVersion(2, 45, 1))
    }

    func testGitVersionWarning() {
        struct Answering: ProcessRunner {
            let output: String?
            func run(_ spec: ProcessSpec, timeoutSeconds: Double, cancellation: Cancellation?,
                     onOutput: (@Sendable (String) -> Void)?) throws -> ProcessResult {
                XCTAssertEqual(spec.arguments, ["--version"])
                guard let output else { throw ProcessError(operation: "spawn git", errno: ENOENT) }
                return ProcessResult(termination: .exited(0), output: output)
            }
        }
        XCTAssertNil(GitVersion.startupWarning(runner: Answering(output: "git version 2.39.5\n")))
        XCTAssertNil(GitVersion.startupWarning(runner: Answering(output: "git version 2.45.1.windows.1\n")))
        let old = GitVersion.startupWarning(runner: Answering(output: "git version 2.20.0\n"))
        XCTAssertTrue(old?.hasPrefix("git 2.20.0 is older than 2.39") == true, old ?? "no warning")
        XCTAssertNotNil(GitVersion.startupWarning(runner: Answering(output: "garbage")))
        XCTAssertTrue(GitVersion.startupWarning(runner: Answering(output: nil))?.hasPrefix("git could not be run") == true)
    }

    func testWhichDockerClientsCarryBuildKit() {
        for version in ["18.09.1", "19.03.15", "20.10.24+dfsg1", "22.06.0-beta.0"] {
            XCTAssertTrue(ImageBuilder.clientHasBuiltinBuildKit(version: version), version)
        }
        for version in ["18.06.3-ce", "17.12.1", "23.0.0", "28.2.2", "", "garbage"] {
            XCTAssertFalse(ImageBuilder.clientHasBuiltinBuildKit(version: version), version)
        }
    }

    /// The builder is asked for once, from the client itself; a client that cannot be run is
    /// not remembered, so a later build asks again.
    func testBuilderProbeAsksTheClientOnce() throws {
        final class Scripted: ProcessRunner {
            let calls = Mutex<[[String]]>([])
            let version: String?
            init(version: String?) { self.version = version }
            func run(_ spec: ProcessSpec, timeoutSeconds: Double, cancellation: Cancellation?,
                     onOutput: (@Sendable (String) -> Void)?) throws -> ProcessResult {
                calls.withLock { $0.append(spec.arguments) }
                if spec.arguments.first == "buildx" { return ProcessResult(termination: .exited(1), output: "unknown command") }
                guard let version else { throw ProcessError(operation: "spawn docker", errno: ENOENT) }
                return ProcessResult(termination: .exited(0), output: version + "\n")
            }
        }
        let old = Scripted(version: "20.10.24+dfsg1")
        let probe = ImageBuilderProbe(choice: .auto)
        XCTAssertEqual(probe.builder(docker: "docker", runner: old).builder, .buildkit)
        XCTAssertEqual(probe.builder(docker: "docker", runner: old),
                       BuilderChoice(builder: .buildkit, reason: "docker client 20.10.24+dfsg1 has BuildKit built in"))
        XCTAssertEqual(old.calls.withLock { $0 }, [["buildx", "version"], ["version", "--format", "{{.Client.Version}}"]])

        let newer = ImageBuilderProbe(choice: .auto).builder(docker: "docker", runner: Scripted(version: "28.2.2"))
        XCTAssertEqual(newer.builder, .classic)
        XCTAssertTrue(newer.logLine.hasPrefix("builder: classic builder (docker client 28.2.2 has no BuildKit: from 23.0 on it comes with the buildx plugin"),
                      newer.logLine)
        let missing = Scripted(version: nil), unknown = ImageBuilderProbe(choice: .auto)
        XCTAssertEqual(unknown.builder(docker: "docker", runner: missing).builder, .classic)
        XCTAssertEqual(unknown.builder(docker: "docker", runner: missing).builder, .classic)
        XCTAssertEqual(missing.calls.withLock { $0 }.count, 4, "not remembered while the client cannot be asked")
        XCTAssertEqual(ImageBuilderProbe(choice: .classic).builder(docker: "docker", runner: old),
                       BuilderChoice(builder: .classic, reason: "--builder classic"))
    }

    /// One LABEL line for every label, each key and value quoted.
    func testTheClassicBuildersLabelsGoInOneStep() throws {
        let text = String(decoding: try DockerCommands.labelDockerfile(image: "slipway/web:7-unlabelled",
                                                                         labels: [("slipway.app", "web"), ("note", "a \"b\" \\c")]),
                          as: UTF8.self)
        XCTAssertEqual(text, "FROM slipway/web:7-unlabelled\nLABEL \"slipway.app\"=\"web\" \"note\"=\"a \\\"b\\\" \\\\c\"\n")
        XCTAssertThrowsError(try DockerCommands.labelDockerfile(image: "i", labels: [("k", "line\nbreak")]))
    }

    /// The deprecation notice a newer client prints with DOCKER_BUILDKIT=0 (which Slipway sets) is
    /// dropped; the build's own lines are not.
    func testTheLegacyBuilderNoticeIsDropped() {
        let notice = LegacyBuilderNotice()
        let lines = ["DEPRECATED: The legacy builder is deprecated and will be removed in a future release.",
                     "            BuildKit is currently disabled; enable it by removing the DOCKER_BUILDKIT=0",
                     "            environment-variable.", "", "Sending build context to Docker daemon  3.072kB", "Step 1/3 : FROM x",
                     " ---> 3b1f1e"]
        XCTAssertEqual(lines.filter { !notice.drops($0) }, ["", "Sending build context to Docker daemon  3.072kB", "Step 1/3 : FROM x",
                                                              " ---> 3b1f1e"])
    }

    /// The shape `docker inspect` prints for DockerCommands.endpoints (taken from docker 20.10).
    func testEndpointsFromOneInspect() {
        XCTAssertEqual(DockerCLI.endpoints(fromInspect: "5000/tcp=127.0.0.1:32819,\n|172.17.0.2 \n", internalPort: 5000),
                       ContainerEndpoints(hostPort: 32819, bridge: "172.17.0.2"))
        XCTAssertEqual(DockerCLI.endpoints(fromInspect: "443/tcp=\n5000/tcp=127.0.0.1:40001,::1:40001,\n| \n", internalPort: 5000),
                       ContainerEndpoints(hostPort: 40001, bridge: nil), "no bridge address: the published port is used")
        XCTAssertNil(DockerCLI.endpoints(fromInspect: "5000/tcp=\n|172.17.0.2 \n", internalPort: 5000), "not published (yet)")
        XCTAssertNil(DockerCLI.endpoints(fromInspect: "8080/tcp=127.0.0.1:1,\n|172.17.0.2 \n", internalPort: 5000))
        XCTAssertNil(DockerCLI.endpoints(fromInspect: "", internalPort: 5000))
        XCTAssertEqual(DockerCLI.ipv4("fd00::2 "), nil)
    }
}
