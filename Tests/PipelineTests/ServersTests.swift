import Foundation
import PipelineTestSupport
import XCTest
@testable import Pipeline

final class ServersTests: XCTestCase {
    func testAnSSHDestinationIsUserAtHostWithAnOptionalPort() throws {
        XCTAssertEqual(try SSHDestination.parse("deploy@10.0.0.12"), SSHDestination(user: "deploy", host: "10.0.0.12", port: 22))
        XCTAssertEqual(try SSHDestination.parse("ops@Web-2.Example.com:2222"), SSHDestination(user: "ops", host: "web-2.example.com", port: 2222))
        XCTAssertEqual(try SSHDestination.parse("deploy@10.0.0.12:2222").dockerURL, "ssh://deploy@10.0.0.12:2222")
        for bad in ["10.0.0.12", "@host", "user@", "-oProxyCommand=x@host", "user@-host", "user@host:0", "user@host:65536",
                    "user@host:", "a@b@c", "us er@host", "user@ho st", "user@[::1]", String(repeating: "u", count: 33) + "@host"] {
            XCTAssertThrowsError(try SSHDestination.parse(bad), bad) { error in
                XCTAssertEqual((error as? ValidationError)?.field, "ssh", bad)
            }
        }
    }

    func testTheEngineProbeReadsVersionsFreeSpaceAndTellsFailuresApart() {
        let output = "WARNING: something\n{\"Client\":{\"Version\":\"28.2.2\"},\"Server\":{\"Version\":\"20.10.24\",\"ApiVersion\":\"1.41\",\"Os\":\"linux\",\"Arch\":\"amd64\"}}\n"
        XCTAssertEqual(EngineProbe.versions(output), EngineProbe.Versions(server: "20.10.24", api: "1.41", os: "linux", architecture: "amd64"))
        XCTAssertNil(EngineProbe.versions("{\"Client\":{}}"), "no server part: the engine did not answer")
        XCTAssertEqual(EngineProbe.freeBytes("Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 100 40 60 40% /\n"), 60 * 1024)
        XCTAssertNil(EngineProbe.freeBytes("df: /nope: No such file or directory\n"))

        let target = SSHDestination(user: "root", host: "10.0.0.2")
        let changed = EngineProbe.failure("@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.", destination: target, pinned: true)
        XCTAssertTrue(changed.hostKeyChanged)
        XCTAssertTrue(changed.message.contains("another host key"), changed.message)
        let denied = EngineProbe.failure("root@10.0.0.2: Permission denied (publickey).", destination: target, pinned: false)
        XCTAssertFalse(denied.hostKeyChanged)
        XCTAssertTrue(denied.message.contains("refused Slipway's key"), denied.message)
        let down = EngineProbe.failure("error during connect: ...\nssh: connect to host 10.0.0.2 port 22: Connection refused", destination: target, pinned: true)
        XCTAssertFalse(down.hostKeyChanged)
        XCTAssertTrue(down.message.hasSuffix("ssh: connect to host 10.0.0.2 port 22: Connection refused"), down.message)
    }

    func testSSHOptionsPinTheHostKeyAndUseNoOtherConfiguration() {
        let options = SSHCommands.options(identity: "/d/id", knownHosts: "/d/known", pinning: .required)
        XCTAssertEqual(Array(options.prefix(4)), ["-F", "/dev/null", "-i", "/d/id"])
        for option in ["IdentitiesOnly=yes", "UserKnownHostsFile=/d/known", "GlobalKnownHostsFile=/dev/null", "StrictHostKeyChecking=yes", "BatchMode=yes"] {
            XCTAssertTrue(options.contains(option), option)
        }
        XCTAssertTrue(SSHCommands.options(identity: "/i", knownHosts: "/k", pinning: .acceptNew).contains("StrictHostKeyChecking=accept-new"))
        XCTAssertEqual(SSHCommands.freeDisk(SSHDestination(user: "u", host: "h", port: 2), directory: "/var/lib/docker"),
                       ["-p", "2", "-l", "u", "--", "h", "df", "-Pk", "/var/lib/docker"])
        XCTAssertTrue(SSHCommands.isPlainPath("/var/lib/docker"))
        for unsafe in ["var/lib", "/a b", "/a;b", "/$(x)", "/a`b`", "/a\nb"] { XCTAssertFalse(SSHCommands.isPlainPath(unsafe), unsafe) }
    }

    func testAServerWithAppsCannotBeRemovedAndLocalIsBuiltIn() throws {
        let fx = try ServiceFixture()
        defer { fx.tearDown() }
        let directory = try ServerDirectory(store: fx.store, runner: FakeKeygen(),
                                            settings: .init(root: fx.dir + "/servers", dockerExecutable: "docker", wrapperBinary: nil, instanceID: "t"))
        let added = try directory.add(name: "web-2", ssh: "deploy@10.0.0.12", address: "10.0.0.12", privateKey: nil)
        XCTAssertEqual(added.server.state, .pending)
        XCTAssertEqual(added.publicKey, "ssh-ed25519 AAAA fake")
        XCTAssertThrowsError(try directory.add(name: "web-2", ssh: "deploy@10.0.0.13", address: "10.0.0.13", privateKey: nil)) { error in
            XCTAssertEqual(error as? ServerError, .nameTaken("web-2"))
        }
        XCTAssertThrowsError(try directory.remove(name: Server.localName)) { XCTAssertEqual($0 as? ServerError, .builtIn("local")) }
        let app = try fx.store.createApp(name: "api", settings: AppSettings(repoURL: "/srv/api"), port: nil, env: [])
        try fx.store.database.write { try $0.execute("UPDATE apps SET server = 'web-2' WHERE id = ?", app.id) }
        XCTAssertThrowsError(try directory.remove(name: "web-2")) { XCTAssertEqual($0 as? ServerError, .hasApps(server: "web-2", apps: ["api"])) }
        try fx.store.database.write { try $0.execute("UPDATE apps SET server = 'local' WHERE id = ?", app.id) }
        try directory.remove(name: "web-2")
        XCTAssertEqual(try directory.servers(), [])
        XCTAssertFalse(FileManager.default.fileExists(atPath: fx.dir + "/servers/web-2"))
    }
}

/// ssh-keygen as the directory runs it: writes the public half the real one would.
private struct FakeKeygen: ProcessRunner {
    func run(_ spec: ProcessSpec, timeoutSeconds: Double, cancellation: Cancellation?, onOutput: (@Sendable (String) -> Void)?) throws -> ProcessResult {
        if spec.executable == "ssh-keygen", let f = spec.arguments.firstIndex(of: "-f"), spec.arguments.contains("-N") {
            let path = spec.arguments[f + 1]
            _ = FileManager.default.createFile(atPath: path, contents: Data("private".utf8))
            _ = FileManager.default.createFile(atPath: path + ".pub", contents: Data("ssh-ed25519 AAAA fake\n".utf8))
            return ProcessResult(termination: .exited(0), output: "")
        }
        return ProcessResult(termination: .exited(1), output: "unexpected \(spec.displayLine)")
    }
}
