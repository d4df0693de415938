import Foundation
import Synchronization
import XCTest
@testable import Pipeline

final class ProcessRunnerTests: XCTestCase {
    let runner = SpawnedProcessRunner(killGraceSeconds: 1)

    func testCapturesOutputAndExitCode() throws {
        let r = try runner.run(ProcessSpec("sh", ["-c", "echo out; echo err >&2; exit 3"]))
        XCTAssertEqual(r.termination, .exited(3))
        XCTAssertTrue(r.output.contains("out") && r.output.contains("err"))
    }

    func testTimeoutKillsTheProcessGroup() throws {
        let started = Date()
        let r = try runner.run(ProcessSpec("sh", ["-c", "sleep 30 & sleep 30"]), timeoutSeconds: 0.5)
        XCTAssertTrue(r.timedOut)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    }

    func testCancellation() throws {
        let cancel = Cancellation()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { cancel.cancel() }
        let r = try runner.run(ProcessSpec("sleep", ["30"]), timeoutSeconds: 60, cancellation: cancel, onOutput: nil)
        XCTAssertTrue(r.cancelled)
        XCTAssertEqual(r.termination, .signaled(SIGTERM))
    }

    func testEnvironmentIsPassedButNotInherited() throws {
        setenv("SLIPWAY_TEST_LEAK", "leaked", 1)
        let r = try runner.run(ProcessSpec("sh", ["-c", "echo \"$GIVEN/$SLIPWAY_TEST_LEAK\""], environment: ["GIVEN": "yes"]))
        XCTAssertEqual(r.output, "yes/\n")
    }

    func testStreamsLines() throws {
        final class Lines: @unchecked Sendable { var items: [String] = [] } // appended only from the runner's calling thread
        let lines = Lines()
        _ = try runner.run(ProcessSpec("sh", ["-c", "printf 'a\\nb\\nc'"]), timeoutSeconds: 10, cancellation: nil) { lines.items.append($0) }
        XCTAssertEqual(lines.items, ["a", "b", "c"])
    }

    func testOutputIsCapped() throws {
        let small = SpawnedProcessRunner(outputLimit: 100)
        let r = try small.run(ProcessSpec("sh", ["-c", "head -c 100000 /dev/zero | tr '\\0' x"]))
        XCTAssertEqual(r.output.count, 100)
    }

    /// The database and every other descriptor of ours are close-on-exec: a child sees only 0-2.
    func testNoDescriptorLeaksIntoChildren() throws {
        let dir = NSTemporaryDirectory() + "slipway-fd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store(path: dir + "/slipway.db")
        _ = try store.apps()
        let r = try runner.run(ProcessSpec("sh", ["-c", "ls -l /proc/self/fd/"]))
        XCTAssertFalse(r.output.contains("slipway.db"), r.output)
        let fds = r.output.split(separator: "\n").filter { $0.contains("->") }
        // 0, 1, 2, and the fd ls itself opens to read the directory.
        XCTAssertLessThanOrEqual(fds.count, 4, r.output)
    }

    /// A process a killed server left behind is found by its pid file and killed with its group;
    /// a pid file whose process runs something else is only removed.
    func testLeftoverProcessesAreKilledByTheirPidFiles() throws {
        let dir = NSTemporaryDirectory() + "slipway-orphans-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = {
            var spec = ProcessSpec("sh", ["-c", "sleep 30; : slipway/web:7"])
            spec.pidFile = dir + "/build.pid"
            return spec
        }()
        let ended = DispatchSemaphore(value: 0)
        let result = Mutex<ProcessResult?>(nil)
        let runner = self.runner
        Thread.detachNewThread {
            let r = try? runner.run(spec, timeoutSeconds: 60)
            result.withLock { $0 = r }
            ended.signal()
        }
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: spec.pidFile!) && Date() < deadline { usleep(10_000) }
        let pid = pid_t(try String(contentsOfFile: spec.pidFile!, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertNotNil(pid)

        // Another process (this test itself) does not carry the marker.
        try "\(getpid())\n".write(toFile: dir + "/other.pid", atomically: true, encoding: .utf8)
        XCTAssertEqual(OrphanedProcesses.killLeftovers(in: dir, marker: "no-such-marker/"), [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [], "pid files are removed either way")

        try "\(pid!)\n".write(toFile: dir + "/build.pid", atomically: true, encoding: .utf8)
        XCTAssertEqual(OrphanedProcesses.killLeftovers(in: dir, marker: "slipway/"), [pid!])
        XCTAssertEqual(ended.wait(timeout: .now() + 10), .success, "the killed process ended")
        XCTAssertEqual(result.withLock { $0 }?.termination, .signaled(SIGKILL))
    }
}
