import Foundation
import XCTest
@testable import SlipwaySystem

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
}
