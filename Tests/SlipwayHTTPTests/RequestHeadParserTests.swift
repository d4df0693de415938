import XCTest
@testable import SlipwayHTTP

final class RequestHeadParserTests: XCTestCase {
    private let limits = HTTPLimits()

    private func scan(_ text: String) -> RequestHeadParser.Result {
        RequestHeadParser.scan(Array(text.utf8)[...], limits: limits)
    }

    private func parse(_ text: String) throws(HTTPError) -> RequestHead {
        let bytes = Array(text.utf8)
        guard case .complete(let n) = RequestHeadParser.scan(bytes[...], limits: limits) else {
            throw HTTPError.framing(0, "incomplete")
        }
        return try RequestHeadParser.parse(bytes[0..<n])
    }

    private func status(_ text: String) -> Int? {
        do {
            let head = try parse(text)
            _ = try BodyFraming.of(head)
            return nil
        } catch {
            return error.status
        }
    }

    func testParsesAValidRequest() throws {
        let head = try parse("GET /api/apps?limit=5 HTTP/1.1\r\nHost: example\r\nX-Thing:  spaced value \r\n\r\n")
        XCTAssertEqual(head.method, "GET")
        XCTAssertEqual(head.path, "/api/apps")
        XCTAssertEqual(head.query, "limit=5")
        XCTAssertEqual(head.versionMinor, 1)
        XCTAssertEqual(head.headers["host"], "example")
        XCTAssertEqual(head.headers["X-THING"], "spaced value")
        XCTAssertTrue(head.wantsKeepAlive)
    }

    /// An absolute-form target's authority wins over the Host header (RFC 9112 section 3.2.2),
    /// which is what the HTTP edge routes by.
    func testRequestedHostPrefersAnAbsoluteTargetsAuthority() throws {
        let cases: [(String, String)] = [
            ("GET / HTTP/1.1\r\nHost: Example.com:8080\r\n\r\n", "Example.com:8080"),
            ("GET http://a.w.test/version HTTP/1.1\r\nHost: app.edge.test\r\n\r\n", "a.w.test"),
            ("GET http://a.w.test:81?x=1 HTTP/1.1\r\nHost: app.edge.test\r\n\r\n", "a.w.test:81"),
            ("GET HTTPS://user@b.test HTTP/1.1\r\nHost: app.edge.test\r\n\r\n", "b.test"),
            ("OPTIONS * HTTP/1.1\r\nHost: c.test\r\n\r\n", "c.test"),
        ]
        for (text, host) in cases {
            XCTAssertEqual(try parse(text).requestedHost, host, text)
        }
    }

    func testIncompleteUntilTheBlankLine() {
        XCTAssertEqual(scan("GET / HTTP/1.1\r\nHost: x\r\n"), .incomplete)
        XCTAssertEqual(scan("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), .complete(consumed: 27))
        XCTAssertEqual(scan("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET"), .complete(consumed: 27))
    }

    func testKeepAliveRules() throws {
        XCTAssertFalse(try parse("GET / HTTP/1.0\r\n\r\n").wantsKeepAlive)
        XCTAssertTrue(try parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").wantsKeepAlive)
        XCTAssertFalse(try parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").wantsKeepAlive)
        XCTAssertFalse(try parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade, Close\r\n\r\n").wantsKeepAlive)
    }

    func testSizeLimitsAreRefusedBeforeTheLineEnds() {
        XCTAssertEqual(scan("GET /" + String(repeating: "a", count: 9000)), .failed(.framing(414, "request line too long")))
        XCTAssertEqual(scan("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 9000)),
                       .failed(.framing(431, "request header line too large")))
        let many = (0..<100).map { "X-\($0): " + String(repeating: "v", count: 1000) + "\r\n" }.joined()
        XCTAssertEqual(scan("GET / HTTP/1.1\r\n" + many + "\r\n"), .failed(.framing(431, "request headers too large")))
    }

    func testMalformedInputTable() {
        let cases: [(String, Int?, String)] = [
            ("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", nil, "valid"),
            ("GARBAGE\r\n\r\n", 400, "no spaces"),
            ("GET /healthz\r\n\r\n", 400, "HTTP/0.9 form"),
            ("GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "double space"),
            ("GET /healthz HTTP/1.1 \r\nHost: x\r\n\r\n", 400, "trailing space"),
            ("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad method"),
            ("GET / HTTP/1.1\r\nHost x\r\n\r\n", 400, "no colon"),
            ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "space before colon"),
            ("GET / HTTP/1.1\r\nHo(st: x\r\n\r\n", 400, "bad name"),
            ("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "obs-fold"),
            ("GET / HTTP/1.1\r\nHost: x\u{01}\r\n\r\n", 400, "control char"),
            ("GET / HTTP/1.1\r\n\r\n", 400, "missing Host"),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "two Hosts"),
            ("GET / HTTP/1.0\r\n\r\n", nil, "1.0 needs no Host"),
            ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2"),
            ("GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505, "HTTP/3"),
            ("GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505, "HTTP/1.2"),
            ("GET / HTTX/1.1\r\nHost: x\r\n\r\n", 400, "not HTTP"),
            ("GET / HTTP/11\r\nHost: x\r\n\r\n", 400, "bad version"),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "CL and TE"),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400, "duplicate CL"),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n", 400, "CL list"),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "non-numeric CL"),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "negative CL"),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", 400, "signed CL"),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, "huge CL"),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unknown coding"),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "gzip then chunked"),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400, "chunked twice"),
            ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "TE on 1.0"),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", nil, "chunked"),
        ]
        for (text, expected, name) in cases {
            XCTAssertEqual(status(text), expected, name)
        }
    }

    func testFraming() throws {
        XCTAssertEqual(try BodyFraming.of(try parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n")), .contentLength(12))
        XCTAssertEqual(try BodyFraming.of(try parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")), .none)
        XCTAssertEqual(try BodyFraming.of(try parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n")), .chunked)
    }

    func testAbsoluteFormTargetKeepsThePath() throws {
        let head = try parse("GET http://example.com/healthz?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        XCTAssertEqual(head.path, "/healthz")
        XCTAssertEqual(head.query, "x=1")
    }

    func testErrorMessagesNeverEchoInput() {
        let marker = "ECHOMARKER"
        for text in ["GET /\(marker) HTTP/9.9\r\n\r\n", "\(marker)\r\n\r\n", "GET / HTTP/1.1\r\n\(marker)\r\n\r\n"] {
            do {
                _ = try BodyFraming.of(try parse(text))
                XCTFail("accepted \(text)")
            } catch {
                XCTAssertFalse(error.message.contains(marker))
            }
        }
    }
}
