import XCTest
@testable import Pipeline

final class CommandsTests: XCTestCase {
    func testDockerRunArgv() {
        let spec = ContainerSpec(name: "slipway-web-7", image: "slipway/web:7", labels: [("slipway.app", "web"), ("slipway.deployment", "7")],
                                 envNames: ["SECRET", "MODE"], internalPort: 5000, memoryMB: 256, cpus: 0.5)
        XCTAssertEqual(DockerCommands.run(spec), [
            "run", "--detach", "--name", "slipway-web-7",
            "--label", "slipway.app=web", "--label", "slipway.deployment=7",
            "--env", "SECRET", "--env", "MODE",
            "--memory", "256m", "--memory-swap", "256m", "--cpus", "0.5",
            "--pids-limit", "512", "--restart", "unless-stopped",
            "--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3",
            "--security-opt", "no-new-privileges",
            "--publish", "127.0.0.1::5000",
            "--", "slipway/web:7",
        ])
    }

    func testDockerRunNeverCarriesEnvValues() {
        let spec = ContainerSpec(name: "n", image: "i", labels: [], envNames: ["TOKEN"], internalPort: 80)
        XCTAssertFalse(DockerCommands.run(spec).contains { $0.contains("=") && $0.hasPrefix("TOKEN") })
    }

    func testDockerBuildReadsTheContextFromStandardInput() {
        XCTAssertEqual(DockerCommands.build(tag: "slipway/web:3", labels: [("slipway.app", "web")]),
                       ["build", "--quiet=false", "--force-rm", "--tag", "slipway/web:3", "--label", "slipway.app=web", "-"])
    }

    func testDockerListingsFilterByEveryLabel() {
        XCTAssertEqual(DockerCommands.listImages(labels: ["a=1", "b=2"]),
                       ["images", "--filter", "label=a=1", "--filter", "label=b=2", "--format", "{{.Repository}}:{{.Tag}}"])
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
        XCTAssertEqual(GitCommands.environment(allowLocal: true)["GIT_ALLOW_PROTOCOL"], "https:http:ssh:file")
    }
}
