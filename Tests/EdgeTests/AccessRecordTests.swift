import FoundationEssentials
import XCTest
@testable import Edge

final class AccessRecordTests: XCTestCase {
    /// Request target in, stored path out: the query and fragment never reach memory or disk,
    /// and a client cannot put a space, a quote, a newline or a terminal escape into a line.
    func testPathIsSanitised() {
        let cases: [(String, String)] = [
            ("/", "/"),
            ("/orders/17", "/orders/17"),
            ("/login?token=secret&x=1", "/login"),
            ("/a?", "/a"),
            ("/page#top", "/page"),
            ("/a#b?c", "/a"),
            ("?only=query", "-"),
            ("", "-"),
            ("/a b", "/a\\x20b"),
            ("/a\"b", "/a\\x22b"),
            ("/a\\b", "/a\\x5Cb"),
            ("/line\nforged 200", "/line\\x0Aforged\\x20200"),
            ("/\u{1b}[31mred", "/\\x1B[31mred"),
            ("/del\u{7f}", "/del\\x7F"),
            ("/caf\u{e9}", "/caf\\xC3\\xA9"),
            ("/%2e%2e/ok", "/%2e%2e/ok"),
            ("http://example.com/abs?q", "http://example.com/abs"),
        ]
        for (target, expected) in cases {
            XCTAssertEqual(AccessText.path(fromTarget: target), expected, "target \(target.debugDescription)")
        }
    }

    func testLongFieldsAreCutWithoutSplittingAnEscape() {
        let long = "/" + String(repeating: "a", count: 5000)
        XCTAssertEqual(AccessText.path(fromTarget: long).utf8.count, AccessText.maximumPathBytes)
        // 1,021 plain bytes then escapes: the cut falls before an escape that would not fit whole.
        let tail = "/" + String(repeating: "a", count: 1020) + "\n\n"
        let cut = AccessText.path(fromTarget: tail)
        XCTAssertEqual(cut, "/" + String(repeating: "a", count: 1020))
        XCTAssertEqual(AccessText.requestID(String(repeating: "x", count: 500)).utf8.count, AccessText.maximumRequestIDBytes)
    }

    func testRecordSanitisesMethodAndRequestIDAndClampsNumbers() {
        let r = AccessRecord(time: AccessTestRecords.epoch, method: "GE T", target: "/x?y", status: 200, bytesReceived: -1,
                             bytesSent: -5, durationMicroseconds: -3, deploymentID: nil, requestID: "id\r\nX: y")
        XCTAssertEqual(r.method, "GE\\x20T")
        XCTAssertEqual(r.path, "/x")
        XCTAssertEqual(r.requestID, "id\\x0D\\x0AX:\\x20y")
        XCTAssertEqual([r.bytesReceived, r.bytesSent, r.durationMicroseconds], [0, 0, 0])
        XCTAssertFalse(r.upstreamFailed)
    }

    func testLineFormat() {
        let r = AccessRecord(time: Date(timeIntervalSince1970: 1_764_636_766.123), method: "POST", target: "/orders?id=1",
                             status: 201, bytesReceived: 10, bytesSent: 5120, durationMicroseconds: 12_345, deploymentID: 42,
                             requestID: "9f86d081")
        XCTAssertEqual(AccessLogLine.format(r), "2025-12-02T00:52:46.123Z POST /orders 201 5120 12.345 42 9f86d081\n")
        let none = AccessRecord(time: Date(timeIntervalSince1970: 0), method: "GET", target: "/", status: 404, bytesReceived: 0,
                                bytesSent: 0, durationMicroseconds: 7, deploymentID: nil, requestID: "")
        XCTAssertEqual(AccessLogLine.format(none), "1970-01-01T00:00:00.000Z GET / 404 0 0.007 - -\n")
    }

    func testStatusClasses() {
        XCTAssertEqual([100, 199, 200, 304, 404, 499, 500, 599].map { StatusClass(status: $0)?.rawValue },
                       ["1xx", "1xx", "2xx", "3xx", "4xx", "4xx", "5xx", "5xx"])
        XCTAssertNil(StatusClass(status: 99))
        XCTAssertNil(StatusClass(status: 600))
    }
}
