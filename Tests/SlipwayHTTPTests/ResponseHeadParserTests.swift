import XCTest
@testable import SlipwayHTTP

/// The edge's parser of what apps answer: bytes in, a head or the exact refusal out.
final class ResponseHeadParserTests: XCTestCase {
    private func parse(_ text: String, limits: HTTPLimits = HTTPLimits()) -> ResponseHeadParser.Result {
        ResponseHeadParser.parse(Array(text.utf8)[...], limits: limits)
    }

    func testWellFormedHeads() {
        let cases: [(String, Int, String, Int, [(String, String)])] = [
            ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, "OK", 1, [("Content-Length", "2")]),
            ("HTTP/1.0 404 Not Found\r\n\r\n", 404, "Not Found", 0, []),
            ("HTTP/1.1 204\r\nX-A:  spaced \r\n\r\n", 204, "", 1, [("X-A", "spaced")]),
            ("HTTP/1.1 200 \nX-B: lf only\n\n", 200, "", 1, [("X-B", "lf only")]),
        ]
        for (text, status, reason, minor, headers) in cases {
            guard case .complete(let head, let consumed) = parse(text) else { XCTFail("not complete: \(text.debugDescription)"); continue }
            XCTAssertEqual(head.status, status)
            XCTAssertEqual(head.reason, reason)
            XCTAssertEqual(head.versionMinor, minor)
            XCTAssertEqual(head.headers.fields.map(\.name), headers.map(\.0))
            XCTAssertEqual(head.headers.fields.map(\.value), headers.map(\.1))
            XCTAssertEqual(Array(text.utf8)[consumed...].count, text.hasSuffix("ok") ? 2 : 0)
        }
    }

    func testRefusals() {
        var small = HTTPLimits()
        small.maxHeaderCount = 2
        small.maxHeaderLine = 64
        small.maxHeaderBytes = 256
        let cases: [(String, String)] = [
            ("HTTP/2 200 OK\r\n\r\n", "malformed status line"),
            ("HTTP/1.1 99 Low\r\n\r\n", "malformed status line"),
            ("HTTP/1.1 600 High\r\n\r\n", "malformed status line"),
            ("HTTP/1.1 200 O\u{1}K\r\n\r\n", "malformed status line"),
            ("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "malformed response header"),
            ("HTTP/1.1 200 OK\r\n folded\r\n\r\n", "malformed response header"),
            ("HTTP/1.1 200 OK\r\nX: a\u{0}b\r\n\r\n", "malformed response header"),
            ("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", "too many response headers"),
            ("HTTP/1.1 200 OK\r\nA: " + String(repeating: "x", count: 100) + "\r\n\r\n", "response header line too long"),
        ]
        for (text, reason) in cases {
            XCTAssertEqual(parse(text, limits: small), .failed(reason), text.debugDescription)
        }
        XCTAssertEqual(parse("HTTP/1.1 200 OK\r\nA: 1\r\n"), .incomplete)
        var many = small
        many.maxHeaderCount = 1000
        XCTAssertEqual(parse("HTTP/1.1 200 OK\r\n" + String(repeating: "A: 1\r\n", count: 60), limits: many), .failed("response head too large"))
    }

    func testFramingOfAnswers() throws {
        func framing(_ status: Int, _ headers: [(String, String)], method: String = "GET") throws -> ResponseFraming {
            try ResponseFraming.of(ResponseHead(versionMinor: 1, status: status, reason: "", headers: HTTPHeaders(headers)), requestMethod: method)
        }
        XCTAssertEqual(try framing(200, [("Content-Length", "5")]), .contentLength(5))
        XCTAssertEqual(try framing(200, [("Content-Length", "5, 5")]), .contentLength(5))
        XCTAssertEqual(try framing(200, [("Transfer-Encoding", "gzip, chunked"), ("Content-Length", "5")]), .chunked)
        XCTAssertEqual(try framing(200, [("Transfer-Encoding", "gzip")]), .untilClose)
        XCTAssertEqual(try framing(200, []), .untilClose)
        XCTAssertEqual(try framing(200, [("Content-Length", "5")], method: "HEAD"), .none)
        for status in [101, 103, 204, 304] { XCTAssertEqual(try framing(status, [("Content-Length", "5")]), .none) }
        XCTAssertThrowsError(try framing(200, [("Content-Length", "5"), ("Content-Length", "6")]))
        XCTAssertThrowsError(try framing(200, [("Content-Length", "-1")]))
    }
}
