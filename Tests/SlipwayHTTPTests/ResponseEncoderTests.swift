import SlipwaySystem
import XCTest
@testable import SlipwayHTTP

/// HTTP/1.1 framing of responses, bytes out for a response in (RFC 9112, RFC 9110 section 6.4.1).
final class ResponseEncoderTests: XCTestCase {
    private let date = "Tue, 01 Dec 2026 21:00:00 GMT"
    private let get11 = ResponseEncoder.Request(method: "GET", isHTTP10: false)

    private func text(_ encoded: ResponseEncoder.Encoded) -> String { String(decoding: encoded.bytes, as: UTF8.self) }

    func testBytesBodyGetsItsLengthDateAndNosniff() {
        let encoded = ResponseEncoder.encode(.text("hello"), for: get11, keepAlive: true, date: date)
        XCTAssertEqual(text(encoded), "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: \(date)\r\n"
                       + "X-Content-Type-Options: nosniff\r\nContent-Length: 5\r\n\r\nhello")
        XCTAssertTrue(encoded.keepAlive)
        XCTAssertNil(encoded.stream)
    }

    func testAHandlersOwnNosniffIsNotDoubledAndDateIsReplaced() {
        let response = HTTPResponse(headers: [("X-Content-Type-Options", "nosniff"), ("Date", "yesterday")])
        let head = text(ResponseEncoder.encode(response, for: get11, keepAlive: true, date: date))
        XCTAssertEqual(head.components(separatedBy: "X-Content-Type-Options").count, 2)
        XCTAssertFalse(head.contains("yesterday"))
        XCTAssertTrue(head.contains("Date: \(date)\r\n"))
    }

    func testHeadAnswerSaysTheLengthAndSendsNoBody() {
        let encoded = ResponseEncoder.encode(.text("hello"), for: .init(method: "HEAD", isHTTP10: false), keepAlive: true, date: date)
        XCTAssertTrue(text(encoded).hasSuffix("Content-Length: 5\r\n\r\n"))
    }

    func testNoContentAndNotModifiedCarryNeitherBodyNorLength() {
        for status in [204, 304] {
            let response = HTTPResponse(status: status, body: .bytes(Array("ignored".utf8)))
            let out = text(ResponseEncoder.encode(response, for: get11, keepAlive: true, date: date))
            XCTAssertFalse(out.contains("Content-Length"), "\(status)")
            XCTAssertTrue(out.hasSuffix("\r\n\r\n"), "\(status)")
        }
    }

    func testNotKeepingAliveSaysClose() {
        let encoded = ResponseEncoder.encode(.text("x"), for: get11, keepAlive: false, date: date)
        XCTAssertTrue(text(encoded).contains("Connection: close\r\n"))
        XCTAssertFalse(encoded.keepAlive)
    }

    func testHTTP10KeepAliveIsSaidOutLoud() {
        let encoded = ResponseEncoder.encode(.text("x"), for: .init(method: "GET", isHTTP10: true), keepAlive: true, date: date)
        XCTAssertTrue(text(encoded).contains("Connection: keep-alive\r\n"))
        XCTAssertTrue(encoded.keepAlive)
    }

    func testStreamIsChunkedOnHTTP11() {
        let response = HTTPResponse(body: .stream { _ in })
        let encoded = ResponseEncoder.encode(response, for: get11, keepAlive: true, date: date)
        XCTAssertTrue(text(encoded).contains("Transfer-Encoding: chunked\r\n"))
        XCTAssertFalse(text(encoded).contains("Content-Length"))
        XCTAssertTrue(encoded.chunked)
        XCTAssertTrue(encoded.keepAlive)
        XCTAssertNotNil(encoded.stream)
    }

    func testStreamToHTTP10EndsWithTheClose() {
        let response = HTTPResponse(body: .stream { _ in })
        let encoded = ResponseEncoder.encode(response, for: .init(method: "GET", isHTTP10: true), keepAlive: true, date: date)
        XCTAssertFalse(text(encoded).contains("Transfer-Encoding"))
        XCTAssertTrue(text(encoded).contains("Connection: close\r\n"))
        XCTAssertFalse(encoded.chunked)
        XCTAssertFalse(encoded.keepAlive)
    }

    func testHeadOfAStreamWritesNoStream() {
        let response = HTTPResponse(body: .stream { _ in })
        XCTAssertNil(ResponseEncoder.encode(response, for: .init(method: "HEAD", isHTTP10: false), keepAlive: true, date: date).stream)
    }

    func testAnAnswerToNoRequestIsHTTP11WithItsBody() {
        let response = HTTPResponse.error(HTTPError.framing(400, "malformed request line"), format: .text)
        let out = text(ResponseEncoder.encode(response, for: nil, keepAlive: false, date: date))
        XCTAssertTrue(out.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        XCTAssertTrue(out.hasSuffix("\r\n\r\nmalformed request line\n"))
    }

    func testChunksAreHexLengthFramedAndAnEmptyPieceIsNoChunk() {
        XCTAssertEqual(String(decoding: ResponseEncoder.chunk(Array(repeating: 0x61, count: 26)), as: UTF8.self),
                       "1a\r\n" + String(repeating: "a", count: 26) + "\r\n")
        XCTAssertEqual(ResponseEncoder.chunk([]), [])
        XCTAssertEqual(String(decoding: ResponseEncoder.lastChunk, as: UTF8.self), "0\r\n\r\n")
    }

    func testErrorShapes() {
        let error = HTTPError(409, "taken")
        guard case .bytes(let json) = HTTPResponse.error(error, format: .json).body,
              case .bytes(let plain) = HTTPResponse.error(error, format: .text).body else { return XCTFail() }
        XCTAssertEqual(String(decoding: json, as: UTF8.self), #"{"error":{"code":"conflict","message":"taken"}}"# + "\n")
        XCTAssertEqual(String(decoding: plain, as: UTF8.self), "taken\n")
    }

    func testPeekPathReadsTheTargetOfAnUnfinishedHead() {
        let cases: [(String, String?)] = [
            ("GET /api/apps?x=1 HTTP/1.1\r\nHost: a\r\n", "/api/apps"),
            ("\r\nPOST /hooks/github/app#frag HTTP/1.1\r\n", "/hooks/github/app"),
            ("GET /api/apps HTTP/1.1", "/api/apps"),
            ("GET /api/ap", nil),
            ("GET", nil),
            ("", nil),
            ("GET http://x/api HTTP/1.1\r\n", nil),
            ("GET  /api HTTP/1.1\r\n", nil),
        ]
        for (input, path) in cases {
            XCTAssertEqual(RequestHeadParser.peekPath(Array(input.utf8)[...]), path, input.debugDescription)
        }
    }
}
