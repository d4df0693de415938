import XCTest
@testable import SlipwayHTTP

final class ChunkedDecoderTests: XCTestCase {
    private func decode(_ text: String, limit: Int = 1 << 20, splitEvery: Int? = nil) throws(HTTPError) -> (body: String, done: Bool, rest: Int) {
        var decoder = ChunkedDecoder(limits: HTTPLimits(), bodyLimit: limit)
        let all = Array(text.utf8)
        var buffer = [UInt8]()
        var done = false
        var offset = 0
        let step = splitEvery ?? all.count
        while offset < all.count && !done {
            buffer.append(contentsOf: all[offset..<min(all.count, offset + step)])
            offset += step
            var index = 0
            done = try decoder.feed(buffer, index: &index)
            buffer.removeFirst(index)
        }
        return (String(decoding: decoder.body, as: UTF8.self), done, buffer.count + (all.count - min(offset, all.count)))
    }

    func testDecodesChunksWithExtensionsAndTrailers() throws {
        let r = try decode("4;name=value\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n")
        XCTAssertEqual(r.body, "Wikipedia")
        XCTAssertTrue(r.done)
        XCTAssertEqual(r.rest, 0)
    }

    func testDecodesByteByByte() throws {
        let r = try decode("3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\nNEXT", splitEvery: 1)
        XCTAssertEqual(r.body, "abc0123456789")
        XCTAssertTrue(r.done)
    }

    func testLeavesThePipelinedRequestAlone() throws {
        var decoder = ChunkedDecoder(limits: HTTPLimits(), bodyLimit: 100)
        let buffer = Array("1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n".utf8)
        var index = 0
        XCTAssertTrue(try decoder.feed(buffer, index: &index))
        XCTAssertEqual(String(decoding: buffer[index...], as: UTF8.self), "GET / HTTP/1.1\r\n")
    }

    func testHandsOutPiecesWhereTheyLieNoLargerThanAsked() throws {
        var decoder = ChunkedDecoder(limits: HTTPLimits(), bodyLimit: 100)
        let buffer = Array("5\r\nabcde\r\n2\r\nfg\r\n0\r\n\r\nNEXT".utf8)
        var index = 0
        var pieces: [String] = []
        loop: while true {
            switch try decoder.next(buffer, index: &index, maxData: 3) {
            case .data(let range): pieces.append(String(decoding: buffer[range], as: UTF8.self))
            case .needMore: XCTFail("the whole body is in the buffer"); break loop
            case .end: break loop
            }
        }
        XCTAssertEqual(pieces, ["abc", "de", "fg"])
        XCTAssertEqual(String(decoding: buffer[index...], as: UTF8.self), "NEXT")
        XCTAssertEqual(decoder.declared, 7)
        XCTAssertTrue(decoder.body.isEmpty, "only feed collects the body")
    }

    func testRejectsMalformedChunks() {
        let cases: [(String, Int)] = [
            ("zz\r\nabc\r\n0\r\n\r\n", 400),
            ("\r\n", 400),
            ("3\r\nabcX\r\n0\r\n\r\n", 400),
            ("3\nabc\r\n0\r\n\r\n", 400),
            ("123456789\r\n", 400),
            ("-1\r\n", 400),
            ("20\r\n" + String(repeating: "a", count: 32) + "\r\n0\r\n\r\n", 413),
        ]
        for (text, status) in cases {
            do {
                _ = try decode(text, limit: 16)
                XCTFail("accepted \(text.debugDescription)")
            } catch {
                XCTAssertEqual(error.status, status, text.debugDescription)
            }
        }
    }
}
