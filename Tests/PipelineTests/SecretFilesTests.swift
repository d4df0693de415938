import Foundation
import XCTest
@testable import Pipeline

/// Files that hand secrets to child processes: born 0600 in a 0700 directory, there while the
/// process runs, gone when it ends however it ends.
final class SecretFilesTests: XCTestCase {
    private var dir = ""
    private let runner = SpawnedProcessRunner(killGraceSeconds: 1)

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "slipway-secrets-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func mode(_ path: String) -> mode_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
    }

    /// The child sees the file, 0600 even under a permissive umask; after it ends the file is gone.
    func testTheFileExistsOnlyWhileTheProcessRuns() throws {
        let old = umask(0)
        defer { umask(old) }
        let run = RunDirectory(dataDir: dir)
        let file = run.newFile("env", contents: Array("A=1\n".utf8))
        XCTAssertTrue(file.path.hasPrefix(dir + "/run/env-"), file.path)
        var spec = ProcessSpec("sh", ["-c", "stat -c %a \"$0\"; stat -c %a \"$(dirname \"$0\")\"; cat \"$0\"", file.path])
        spec.secretFiles = [file]
        let result = try runner.run(spec)
        XCTAssertEqual(result.output, "600\n700\nA=1\n", "the run directory is made 0700 when missing")
        XCTAssertNil(mode(file.path), "removed after the process ended")
    }

    func testTheFileGoesWhenTheProcessFailsOrCannotStart() throws {
        let run = RunDirectory(dataDir: dir)
        var failing = ProcessSpec("sh", ["-c", "exit 3"])
        failing.secretFiles = [run.newFile("env", contents: [1, 2, 3])]
        XCTAssertEqual(try runner.run(failing).termination, .exited(3))
        XCTAssertNil(mode(failing.secretFiles[0].path))

        var missing = ProcessSpec("/nonexistent/docker", ["run"])
        missing.secretFiles = [run.newFile("env", contents: [1])]
        XCTAssertThrowsError(try runner.run(missing))
        XCTAssertNil(mode(missing.secretFiles[0].path))

        var timedOut = ProcessSpec("sleep", ["30"])
        timedOut.secretFiles = [run.newFile("env", contents: [1])]
        XCTAssertTrue(try runner.run(timedOut, timeoutSeconds: 0.3).timedOut)
        XCTAssertNil(mode(timedOut.secretFiles[0].path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run.path), [])
    }

    /// Something already at the path (a planted file or symlink) is neither written through nor removed.
    func testAnExistingFileIsRefusedAndLeftAlone() throws {
        let run = RunDirectory(dataDir: dir)
        try run.prepare()
        let planted = run.path + "/env-planted"
        try "theirs".write(toFile: dir + "/target", atomically: false, encoding: .utf8)
        XCTAssertEqual(symlink(dir + "/target", planted), 0)
        var spec = ProcessSpec("true", [])
        spec.secretFiles = [ProcessSecretFile(path: planted, contents: Array("ZZcontentZZ".utf8))]
        XCTAssertThrowsError(try runner.run(spec)) { error in
            XCTAssertTrue("\(error)".contains(planted), "the error names the path: \(error)")
            XCTAssertFalse("\(error)".contains("ZZcontentZZ"))
        }
        XCTAssertEqual(try String(contentsOfFile: dir + "/target", encoding: .utf8), "theirs")
        XCTAssertNotNil(mode(planted), "not removed: this run did not make it")
    }

    /// At start-up: the directory is made 0700 and what a killed run left is removed.
    func testPrepareMakesTheDirectoryPrivateAndEmpty() throws {
        let run = RunDirectory(dataDir: dir)
        XCTAssertEqual(try run.prepare(), 0)
        XCTAssertEqual(mode(run.path), 0o700)
        XCTAssertEqual(chmod(run.path, 0o755), 0)
        for name in ["env-1", "git-credentials-2"] { XCTAssertTrue(FileManager.default.createFile(atPath: run.path + "/" + name, contents: Data("x".utf8))) }
        XCTAssertEqual(try run.prepare(), 2)
        XCTAssertEqual(mode(run.path), 0o700)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run.path), [])

        // A symlink in its place could send secrets where others read them.
        let other = RunDirectory(dataDir: dir + "/elsewhere")
        try FileManager.default.createDirectory(atPath: dir + "/elsewhere", withIntermediateDirectories: true)
        XCTAssertEqual(symlink("/tmp", other.path), 0)
        XCTAssertThrowsError(try other.prepare())
    }

    /// git takes include.path only as an absolute path from the environment.
    func testPathsAreAbsolute() {
        XCTAssertEqual(RunDirectory(dataDir: "./data").path, FileManager.default.currentDirectoryPath + "/./data/run")
        XCTAssertEqual(RunDirectory(dataDir: "/srv/slipway").path, "/srv/slipway/run")
        XCTAssertNotEqual(RunDirectory(dataDir: "/d").newFile("env", contents: []).path, RunDirectory(dataDir: "/d").newFile("env", contents: []).path)
    }
}
