import Pipeline
import XCTest
@testable import HookServer

final class SSHWrapperTests: XCTestCase {
    func testItRunsTheRealSSHWithSlipwaysOptionsBeforeDockersArguments() throws {
        let environment = [SSHCommands.Environment.identity: "/data/servers/h2/id_ed25519",
                           SSHCommands.Environment.knownHosts: "/data/servers/h2/known_hosts",
                           SSHCommands.Environment.pin: "yes", SSHCommands.Environment.program: "/usr/bin/ssh"]
        let docker = ["-o", "ConnectTimeout=30", "-T", "-l", "root", "-p", "22", "--", "10.231.8.2", "docker", "system", "dial-stdio"]
        let command = try XCTUnwrap(SSHWrapper.command(environment: environment, arguments: docker))
        XCTAssertEqual(command.program, "/usr/bin/ssh")
        XCTAssertEqual(command.argv.first, "ssh")
        XCTAssertEqual(Array(command.argv.suffix(docker.count)), docker, "docker's arguments come last, unchanged")
        let ours = Array(command.argv.dropFirst().prefix(command.argv.count - 1 - docker.count))
        XCTAssertEqual(ours, SSHCommands.options(identity: "/data/servers/h2/id_ed25519", knownHosts: "/data/servers/h2/known_hosts", pinning: .required))
        XCTAssertLessThan(command.argv.firstIndex(of: "ConnectTimeout=10")!, command.argv.firstIndex(of: "ConnectTimeout=30")!,
                          "ssh keeps the first value of an option: Slipway's")
    }

    func testWithoutSlipwaysEnvironmentItRunsNothing() {
        XCTAssertNil(SSHWrapper.command(environment: [:], arguments: ["host"]))
        XCTAssertNil(SSHWrapper.command(environment: [SSHCommands.Environment.identity: "/i", SSHCommands.Environment.knownHosts: "/k",
                                                      SSHCommands.Environment.pin: "no", SSHCommands.Environment.program: "/usr/bin/ssh"],
                                        arguments: []), "an unknown pinning is refused")
        XCTAssertNil(SSHWrapper.command(environment: [SSHCommands.Environment.identity: "/i", SSHCommands.Environment.knownHosts: "/k",
                                                      SSHCommands.Environment.pin: "yes", SSHCommands.Environment.program: "ssh"],
                                        arguments: []), "only an absolute program")
        XCTAssertTrue(SSHWrapper.isInvoked(as: "ssh"))
        XCTAssertTrue(SSHWrapper.isInvoked(as: "/data/servers/bin/ssh"))
        XCTAssertFalse(SSHWrapper.isInvoked(as: "/usr/local/bin/slipway"))
    }
}
