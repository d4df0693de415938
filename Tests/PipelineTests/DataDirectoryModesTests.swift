import Foundation
import XCTest
@testable import Pipeline

/// The data directory is Slipway's alone, whatever the umask was when its files were made.
final class DataDirectoryModesTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "slipway-modes-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func mode(_ path: String) -> mode_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
    }

    private func make(_ relative: String, _ mode: mode_t, directory: Bool = false) throws {
        let path = dir + "/" + relative
        if directory {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } else {
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("x".utf8)))
        }
        XCTAssertEqual(chmod(path, mode), 0)
    }

    func testAnOldDataDirectoryIsTightened() throws {
        try make("slipway.db", 0o644)
        try make("slipway.db-wal", 0o644)
        try make("logs", 0o755, directory: true)
        try make("logs/deployment-1.log", 0o644)
        try make("repos", 0o755, directory: true)
        try make("repos/web.git", 0o755, directory: true)
        try make("repos/web.git/objects", 0o755, directory: true)
        try make("repos/web.git/objects/pack.pack", 0o444)   // git keeps objects read-only
        try make("repos/web.git/hook.sample", 0o755)
        try make("keys", 0o700, directory: true)
        try make("keys/web_ed25519", 0o600)                  // already right: not counted
        try make("keys/web_ed25519.pub", 0o644)
        try make("known_hosts", 0o644)
        try make("mine.txt", 0o644)                          // not Slipway's: left alone
        try make("mine", 0o755, directory: true)
        XCTAssertEqual(symlink("/etc/passwd", dir + "/logs/link"), 0)
        XCTAssertEqual(chmod(dir, 0o755), 0)

        let report = DataDirectoryModes.tighten(dataDir: dir)
        XCTAssertEqual(report, DataDirectoryModes.Report(fixed: 12, failed: []))
        let expected: [(String, mode_t)] = [
            ("", 0o700), ("slipway.db", 0o600), ("slipway.db-wal", 0o600), ("logs", 0o700), ("logs/deployment-1.log", 0o600),
            ("repos", 0o700), ("repos/web.git", 0o700), ("repos/web.git/objects", 0o700), ("repos/web.git/objects/pack.pack", 0o400),
            ("repos/web.git/hook.sample", 0o700), ("keys", 0o700), ("keys/web_ed25519", 0o600), ("keys/web_ed25519.pub", 0o600),
            ("known_hosts", 0o600), ("mine.txt", 0o644), ("mine", 0o755),
        ]
        for (path, wanted) in expected {
            XCTAssertEqual(mode(dir + "/" + path).map { String($0, radix: 8) }, String(wanted, radix: 8), path)
        }
        XCTAssertEqual(mode("/etc/passwd"), 0o644, "a symlink is not followed")
        XCTAssertEqual(DataDirectoryModes.tighten(dataDir: dir), DataDirectoryModes.Report(), "nothing left to fix")
    }

    /// A new database is born 0600 under a permissive umask, and SQLite gives its WAL and shared
    /// memory files the same mode.
    func testANewDatabaseIsPrivate() throws {
        let old = umask(0o022)
        defer { umask(old) }
        let store = try Store(path: dir + "/slipway.db")
        _ = try store.apps()
        try store.setSetting("probe", "1")
        for name in ["slipway.db", "slipway.db-wal", "slipway.db-shm"] {
            XCTAssertEqual(mode(dir + "/" + name).map { String($0, radix: 8) }, "600", name)
        }
    }
}
