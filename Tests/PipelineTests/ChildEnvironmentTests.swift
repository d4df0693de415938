import Foundation
import Synchronization
import XCTest
@testable import Pipeline

/// Nothing a user typed reaches the environment of a process Slipway runs: app env goes to
/// `docker run` in a file, a git token to git in a file; the environment at most names the file.
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

    private func app(url: String, token: String?) -> App {
        App(id: 1, name: "web", repoURL: url, branch: "main", port: 8001, internalPort: 5000, healthPath: "/",
            memoryMB: nil, cpus: nil, webhookSecret: "w", status: .new, liveDeploymentID: nil, createdAt: "",
            gitToken: token, deployKeyPublic: nil, githubToken: nil)
    }

    /// Every git run of a fetch carries the token in its own file; no environment value holds
    /// the token or its base64 form.
    func testGitTokenIsInAFileNeverTheEnvironment() throws {
        let token = "ghp_SECRET123token"
        let basic = Data("x-access-token:\(token)".utf8).base64EncodedString()
        let recorder = Recorder(answer: "0123456789012345678901234567890123456789\0subject\0A <a@b>")
        let mirror = GitMirror(root: NSTemporaryDirectory() + "slipway-nomirror-\(UUID().uuidString)", runner: recorder,
                               allowLocal: false, runDirectory: run)
        _ = try mirror.fetchAndResolve(app: app(url: "https://example.com/r.git", token: token), revision: nil, log: .discard(), cancellation: nil)
        let specs = recorder.specs
        XCTAssertGreaterThanOrEqual(specs.count, 3, "clone, resolve and describe")
        var paths = Set<String>()
        for spec in specs {
            for (key, value) in spec.environment {
                XCTAssertFalse(value.contains(token) || value.contains(basic), "\(key) carries the token")
            }
            XCTAssertFalse(spec.arguments.contains { $0.contains(token) || $0.contains(basic) })
            let file = try XCTUnwrap(spec.secretFiles.first, "\(spec.arguments)")
            XCTAssertEqual(spec.environment["GIT_CONFIG_VALUE_0"], file.path)
            XCTAssertTrue(file.path.hasPrefix("/data/run/git-credentials-"), file.path)
            XCTAssertEqual(file.contents, GitCommands.credentialsConfig(token: token))
            paths.insert(file.path)
        }
        XCTAssertEqual(paths.count, specs.count, "a file of its own for each run")

        // Without a token, no file and no include.
        let plain = GitMirror(root: "/nonexistent", runner: recorder, allowLocal: false, runDirectory: run)
        let spec = plain.spec(["fetch"], for: app(url: "https://example.com/r.git", token: nil))
        XCTAssertEqual(spec.secretFiles, [])
        XCTAssertNil(spec.environment["GIT_CONFIG_VALUE_0"])
    }

    /// An app stored with a token and a cleartext URL (before that was refused) is not fetched,
    /// and git would not get the token anyway.
    func testGitTokenIsNeverSentInCleartext() {
        let recorder = Recorder()
        let mirror = GitMirror(root: "/nonexistent", runner: recorder, allowLocal: false, runDirectory: run)
        let legacy = app(url: "http://example.com/r.git", token: "ZZsecretZZ")
        XCTAssertThrowsError(try mirror.fetchAndResolve(app: legacy, revision: nil, log: .discard(), cancellation: nil)) { error in
            XCTAssertTrue("\(error)".contains("http://"), "\(error)")
            XCTAssertFalse("\(error)".contains("ZZsecretZZ"))
        }
        XCTAssertEqual(recorder.specs.count, 0, "git never ran")
        XCTAssertEqual(mirror.spec(["fetch"], for: legacy).secretFiles, [])
        XCTAssertEqual(mirror.spec(["fetch"], for: app(url: "http://127.0.0.1:9/r.git", token: "tok")).secretFiles.count, 1)
    }
}
