import Foundation
import Synchronization
import XCTest
@testable import Pipeline

/// Nothing a user typed reaches the environment of a process Slipway runs: app env goes to
/// `docker run` in a file; the environment at most names the file.
final class ChildEnvironmentTests: XCTestCase {
    /// Records each spec, and what its secret files held while it "ran".
    final class Recorder: ProcessRunner {
        struct Seen { var spec: ProcessSpec; var files: [String: [UInt8]] }
        let seen = Mutex<[Seen]>([])
        let answer: String
        init(answer: String = "") { self.answer = answer }

        func run(_ spec: ProcessSpec, timeoutSeconds: Double, cancellation: Cancellation?,
                 onOutput: (@Sendable (String) -> Void)?) throws -> ProcessResult {
            seen.withLock { $0.append(Seen(spec: spec, files: Dictionary(uniqueKeysWithValues: spec.secretFiles.map { ($0.path, $0.contents) }))) }
            return ProcessResult(termination: .exited(0), output: answer)
        }
        var specs: [ProcessSpec] { seen.withLock { $0.map(\.spec) } }
    }

    let run = RunDirectory(dataDir: "/data")

    func testDockerRunTakesEnvFromAFileNotItsEnvironment() throws {
        let recorder = Recorder(answer: "0123abc\n")
        let docker = DockerCLI(runner: recorder, executable: "docker", builder: .classic, runDirectory: run)
        let env = [("DOCKER_HOST", "tcp://127.0.0.1:9"), ("LD_PRELOAD", "/nonexistent.so"), ("PATH", "/evil"),
                   ("SECRET", "  s3cr=t # x  ")]
        let spec = ContainerSpec(name: "slipway-web-1", image: "slipway/web:1", labels: [], envNames: env.map(\.0), internalPort: 5000)
        XCTAssertEqual(try docker.run(spec, env: env, log: .discard()), "0123abc")

        let process = try XCTUnwrap(recorder.specs.first)
        XCTAssertEqual(process.environment, [:], "the client's environment gets nothing of the app's")
        let file = try XCTUnwrap(process.secretFiles.first)
        XCTAssertTrue(file.path.hasPrefix("/data/run/env-"), file.path)
        XCTAssertEqual(process.arguments, DockerCommands.run(spec, envFile: file.path))
        XCTAssertEqual(String(decoding: file.contents, as: UTF8.self),
                       "DOCKER_HOST=tcp://127.0.0.1:9\nLD_PRELOAD=/nonexistent.so\nPATH=/evil\nSECRET=  s3cr=t # x  \n")
        XCTAssertFalse(process.arguments.contains { $0.contains("s3cr=t") || $0.contains("tcp://") })

        // No env, no file.
        _ = try docker.run(spec, env: [], log: .discard())
        XCTAssertEqual(recorder.specs.last?.secretFiles, [])
        XCTAssertFalse(recorder.specs.last?.arguments.contains("--env-file") ?? true)
    }
}
