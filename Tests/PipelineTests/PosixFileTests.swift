import Foundation
import XCTest
@testable import Pipeline

final class PosixFileTests: XCTestCase {
    func testWritesAndReadsFromAnOffset() throws {
        let path = NSTemporaryDirectory() + "slipway-posix-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertNil(PosixFile.read(path))
        let fd = try XCTUnwrap(PosixFile.open(path, O_WRONLY | O_CREAT))
        let big = (0..<200_000).map { UInt8(truncatingIfNeeded: $0) }
        XCTAssertTrue(PosixFile.writeAll(fd, Array("hello ".utf8)))
        XCTAssertTrue(PosixFile.writeAll(fd, big))
        close(fd)
        XCTAssertEqual(PosixFile.read(path), Array("hello ".utf8) + big)
        XCTAssertEqual(PosixFile.read(path, from: 6), big)
        XCTAssertEqual(PosixFile.read(path, from: 6 + big.count), [])
        XCTAssertEqual(PosixFile.read(path, from: 10_000_000), [])
        XCTAssertFalse(PosixFile.writeAll(-1, [1]))
    }

    func testDescriptorsAreCloseOnExec() throws {
        let fd = try XCTUnwrap(PosixFile.open("/dev/null", O_RDONLY))
        defer { close(fd) }
        XCTAssertNotEqual(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0)
    }

    /// Discarded logs are never closed; like FileHandle before, dropping one must free its descriptor.
    func testDroppedDeploymentLogsGiveTheirDescriptorsBack() throws {
        func openDescriptors() throws -> Int { try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count }
        let before = try openDescriptors()
        for _ in 0..<500 { DeploymentLog.discard().line("nothing") }
        XCTAssertLessThan(try openDescriptors(), before + 10)
    }

    func testDeploymentLogAppendsToAnExistingFile() throws {
        let path = NSTemporaryDirectory() + "slipway-log-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = DeploymentLog(path: path)
        first.line("one")
        first.close()
        let second = DeploymentLog(path: path)
        second.line("two")
        second.close()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text.split(separator: "\n").map { $0.dropFirst(25) }, ["one", "two"])
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o666 & ~currentUmask())
    }

    private func currentUmask() -> mode_t {
        let mask = umask(0)
        umask(mask)
        return mask
    }
}
