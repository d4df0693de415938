import Foundation
import XCTest
@testable import SlipwaySystem

final class LocalChannelTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = "/tmp/slw-lc-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testAMessageCarriesOpenDescriptorsToTheOtherEnd() throws {
        let path = dir + "/s.sock"
        let listener = try LocalChannel.listen(path: path)
        defer { close(listener) }
        var mode = stat()
        XCTAssertEqual(stat(path, &mode), 0)
        XCTAssertEqual(mode.st_mode & 0o777, 0o600, "only the owner may connect")

        let client = try LocalChannel.connect(path: path)
        let server = try LocalChannel.accept(listener)
        XCTAssertEqual(server.peerUserID, Int(getuid()))

        var pipe: [Int32] = [0, 0]
        XCTAssertEqual(Glibc.pipe(&pipe), 0)
        defer { close(pipe[0]) }
        try client.send("hello", descriptors: [pipe[1]])
        close(pipe[1])
        let message = try XCTUnwrap(try server.receive(timeoutMilliseconds: 5_000))
        XCTAssertEqual(message.text, "hello")
        XCTAssertEqual(message.descriptors.count, 1)
        let received = message.descriptors[0]
        XCTAssertNotEqual(fcntl(received, F_GETFD) & FD_CLOEXEC, 0, "received close-on-exec")
        XCTAssertEqual(write(received, "x", 1), 1, "the copy writes into the same pipe")
        close(received)
        var byte: UInt8 = 0
        XCTAssertEqual(read(pipe[0], &byte, 1), 1)
        XCTAssertEqual(byte, UInt8(ascii: "x"))
    }

    func testTheEndOfTheConnectionIsNilAndSilenceTimesOut() throws {
        let path = dir + "/s.sock"
        let listener = try LocalChannel.listen(path: path)
        defer { close(listener) }
        var client: LocalChannel? = try LocalChannel.connect(path: path)
        let server = try LocalChannel.accept(listener)
        XCTAssertThrowsError(try server.receive(timeoutMilliseconds: 50)) { error in
            XCTAssertEqual((error as? IOError)?.errno, ETIMEDOUT)
        }
        try client?.send("last")
        client = nil
        XCTAssertEqual(try server.receive(timeoutMilliseconds: 5_000)?.text, "last", "a message sent before the close still arrives")
        XCTAssertNil(try server.receive(timeoutMilliseconds: 5_000))
    }

    func testAPathTooLongForASocketIsAnError() {
        XCTAssertThrowsError(try LocalChannel.listen(path: "/tmp/" + String(repeating: "x", count: 120))) { error in
            XCTAssertEqual((error as? IOError)?.errno, ENAMETOOLONG)
        }
        XCTAssertThrowsError(try LocalChannel.connect(path: dir + "/nobody.sock")) { error in
            XCTAssertEqual((error as? IOError)?.errno, ENOENT)
        }
    }
}
