import SlipwayHTTP
import XCTest
@testable import Edge

/// The heads the edge writes, byte for byte: what the app receives for a client's request and
/// what the client receives for the app's answer.
final class ProxyHeadersTests: XCTestCase {
    private func request(_ text: String) throws -> RequestHead {
        let bytes = Array(text.utf8)
        return try RequestHeadParser.parse(bytes[...])
    }

    private func response(_ text: String) throws -> ResponseHead {
        guard case .complete(let head, _) = ResponseHeadParser.parse(Array(text.utf8)[...], limits: HTTPLimits()) else {
            throw HTTPError(400, "the test's answer head does not parse")
        }
        return head
    }

    func testTheAppGetsTheClientsHeadersWithoutHopByHopOnesAndTheForwardingOnes() throws {
        let head = try request("POST http://web.test/form?a=1 HTTP/1.1\r\nHost: web.test\r\nConnection: keep-alive, X-Private\r\n"
                               + "X-Private: 1\r\nKeep-Alive: 300\r\nTE: trailers\r\nContent-Length: 4\r\nExpect: 100-continue\r\n"
                               + "X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: https\r\nX-Request-Id: theirs\r\nAccept: */*\r\n\r\n")
        let sent = ProxyHeaders.upstreamRequest(head, framing: .contentLength(4), clientAddress: "127.0.0.1", requestID: "ours",
                                                upgrade: false)
        XCTAssertEqual(String(decoding: sent, as: UTF8.self),
                       "POST /form?a=1 HTTP/1.1\r\nHost: web.test\r\nAccept: */*\r\nX-Forwarded-For: 10.0.0.9, 127.0.0.1\r\n"
                       + "X-Forwarded-Proto: http\r\nX-Forwarded-Host: web.test\r\nX-Request-Id: ours\r\nContent-Length: 4\r\n\r\n")
    }

    func testAnUpgradeKeepsUpgradeAndAnEmptyBodyKeepsItsZeroLength() throws {
        let upgrade = try request("GET /ws HTTP/1.1\r\nHost: web.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        XCTAssertEqual(String(decoding: ProxyHeaders.upstreamRequest(upgrade, framing: .none, clientAddress: "192.0.2.1",
                                                                     requestID: "r", upgrade: true), as: UTF8.self),
                       "GET /ws HTTP/1.1\r\nHost: web.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       + "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: web.test\r\nX-Request-Id: r\r\n\r\n")
        let empty = try request("POST /e HTTP/1.1\r\nHost: web.test\r\nContent-Length: 0\r\n\r\n")
        XCTAssertTrue(String(decoding: ProxyHeaders.upstreamRequest(empty, framing: .none, clientAddress: "192.0.2.1",
                                                                    requestID: "r", upgrade: false), as: UTF8.self)
                        .hasSuffix("X-Request-Id: r\r\nContent-Length: 0\r\n\r\n"))
    }

    func testTheClientGetsTheAppsHeadersReframedWithTheRequestsId() throws {
        let answer = try response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n"
                                  + "Connection: X-Secret\r\nX-Secret: leak\r\nKeep-Alive: timeout=5\r\nX-Request-Id: app\r\n\r\n")
        let chunked = ProxyHeaders.clientResponse(answer, framing: .chunked, clientFraming: .chunked, keepAlive: true,
                                                  http10Client: false, requestID: "ours", upgrade: false)
        XCTAssertEqual(String(decoding: chunked, as: UTF8.self),
                       "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nX-Request-Id: ours\r\n\r\n")
        let closing = ProxyHeaders.clientResponse(answer, framing: .untilClose, clientFraming: .untilClose, keepAlive: false,
                                                  http10Client: true, requestID: "ours", upgrade: false)
        XCTAssertEqual(String(decoding: closing, as: UTF8.self),
                       "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Request-Id: ours\r\nConnection: close\r\n\r\n")

        let head = try response("HTTP/1.1 304 \r\nContent-Length: 120\r\nETag: \"x\"\r\n\r\n")
        XCTAssertEqual(String(decoding: ProxyHeaders.clientResponse(head, framing: .none, clientFraming: .asIs, keepAlive: true,
                                                                    http10Client: true, requestID: "r", upgrade: false), as: UTF8.self),
                       "HTTP/1.1 304 Not Modified\r\nContent-Length: 120\r\nETag: \"x\"\r\nX-Request-Id: r\r\nConnection: keep-alive\r\n\r\n",
                       "a 304's length describes the body it stands for")
    }
}
