import XCTest
@testable import Pipeline

/// What `docker inspect` says of a container, as the deployer reports it.
final class ContainerStateTests: XCTestCase {
    private func state(inspect answer: String) throws -> ContainerState? {
        let docker = DockerCLI(runner: ChildEnvironmentTests.Recorder(answer: answer), executable: "docker", builder: .classic,
                               runDirectory: RunDirectory(dataDir: "/data"))
        return try docker.state(container: "slipway-web-1")
    }

    func testAnExitedContainerKeepsItsExitCode() throws {
        let exited = try XCTUnwrap(try state(inspect: "exited 2 0\n"))
        XCTAssertEqual(exited, ContainerState(status: .exited, exitCode: 2))
        XCTAssertEqual(exited.exitDescription, "exited (exit code 2)")
        // Docker's own "restarting" (waiting out its back-off) still has the last exit code.
        XCTAssertEqual(try state(inspect: "restarting 3 1\n"), ContainerState(status: .restarting, exitCode: 3))
    }

    /// Its restart policy started it again, which reset the exit code to 0: saying "exit code 0"
    /// of a container that exited with 2 sent a user looking in the wrong place.
    func testAContainerItsPolicyBroughtBackHasNoKnownExitCode() throws {
        let restarted = try XCTUnwrap(try state(inspect: "running 0 1\n"))
        XCTAssertEqual(restarted, ContainerState(status: .restarting, exitCode: nil))
        XCTAssertEqual(restarted.exitDescription, "exited")
        XCTAssertEqual(try state(inspect: "running 0 0\n"), ContainerState(status: .running, exitCode: 0))
    }
}
