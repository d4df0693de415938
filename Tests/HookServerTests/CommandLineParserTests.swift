import XCTest
@testable import HookServer

final class CommandLineParserTests: XCTestCase {
    private func config(_ args: [String], env: [String: String] = [:]) throws -> Configuration {
        guard case .serve(let c) = try CommandLineParser.parse(args, environment: env) else { throw UsageError(message: "not serve") }
        return c
    }

    func testDefaults() throws {
        let c = try config([])
        XCTAssertEqual(c.host, "127.0.0.1")
        XCTAssertEqual(c.port, 5000)
        XCTAssertEqual(c.dataDir, "./data")
        XCTAssertEqual(c.appPorts, 8001...8100)
        XCTAssertEqual(c.effectiveAppsHost, "127.0.0.1")
        XCTAssertFalse(c.allowLocalRepos)
        XCTAssertEqual(c.dockerExecutable, "docker")
        XCTAssertEqual(c.builder, .auto)
    }

    func testDockerClientAndBuilder() throws {
        let c = try config(["--docker", "/usr/bin/docker", "--builder", "classic"], env: ["SLIPWAY_BUILDER": "buildkit"])
        XCTAssertEqual(c.dockerExecutable, "/usr/bin/docker")
        XCTAssertEqual(c.builder, .classic)
        XCTAssertEqual(try config([], env: ["SLIPWAY_BUILDER": "buildkit"]).builder, .buildkit)
    }

    func testFlagsOverrideEnvironment() throws {
        let env = ["SLIPWAY_PORT": "6000", "SLIPWAY_HOST": "0.0.0.0", "SLIPWAY_ALLOW_LOCAL_REPOS": "1"]
        let c = try config(["serve", "--port", "7000", "--app-ports=9000-9010"], env: env)
        XCTAssertEqual(c.port, 7000)
        XCTAssertEqual(c.host, "0.0.0.0")
        XCTAssertEqual(c.appPorts, 9000...9010)
        XCTAssertTrue(c.allowLocalRepos)
    }

    func testInvalidValuesNameTheFlag() {
        let cases: [([String], [String: String], String)] = [
            (["--port", "notanumber"], [:], "--port"),
            (["--port", "70000"], [:], "--port"),
            (["--app-ports", "9000-8000"], [:], "--app-ports"),
            (["--app-ports", "abc"], [:], "--app-ports"),
            (["--public-url", "ftp://x"], [:], "--public-url"),
            (["--bogus"], [:], "--bogus"),
            (["--port"], [:], "--port"),
            ([], ["SLIPWAY_PORT": "x"], "SLIPWAY_PORT"),
            (["--builder", "kaniko"], [:], "--builder"),
            (["--docker", ""], [:], "--docker"),
        ]
        for (args, env, name) in cases {
            XCTAssertThrowsError(try CommandLineParser.parse(args, environment: env)) { error in
                XCTAssertTrue((error as! UsageError).message.contains(name), "\(args) → \(error)")
            }
        }
    }

    func testHelpAndVersion() throws {
        guard case .help = try CommandLineParser.parse(["--help"], environment: [:]) else { return XCTFail() }
        guard case .version = try CommandLineParser.parse(["--version"], environment: [:]) else { return XCTFail() }
        XCTAssertTrue(CommandLineParser.helpText.contains("--data-dir"))
    }
}
