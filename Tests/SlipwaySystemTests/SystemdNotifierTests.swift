import Foundation
import XCTest
@testable import SlipwaySystem

final class SystemdNotifierTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = "/tmp/slw-sd-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testSystemdIsToldThroughItsNotifySocket() throws {
        let path = dir + "/notify"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(bound, 0)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path])
        XCTAssertTrue(notifier.isActive)
        notifier.notify("MAINPID=42\nREADY=1")
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        XCTAssertEqual(String(decoding: buffer.prefix(max(0, n)), as: UTF8.self), "MAINPID=42\nREADY=1")
        XCTAssertFalse(SystemdNotifier(environment: [:]).isActive)
        XCTAssertFalse(SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative"]).isActive)
    }
}
