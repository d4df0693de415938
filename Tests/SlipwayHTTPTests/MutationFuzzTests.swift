import SlipwaySystem
import XCTest
@testable import SlipwayHTTP

/// A seeded random-mutation fuzz of the request parser, the chunked decoder and the JSON parser,
/// with a fixed budget so it runs in every `make test`. `make fuzz` runs libFuzzer for longer.
final class MutationFuzzTests: XCTestCase {
    /// xorshift64*: deterministic, so a failure reproduces from the seed.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
    }

    static let seeds: [String] = [
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /hooks/github/app HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-Hub-Signature-256: sha256=00\r\n\r\nhello",
        "POST /api/apps HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nT: 1\r\n\r\n",
        "GET http://x/a?b=c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        #"{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567","head_commit":{"message":"m\n\u00e9","author":{"name":"A"}},"deleted":false}"#,
    ]

    private func mutate(_ input: [UInt8], _ rng: inout Generator) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...6, using: &rng) {
            let interesting: [UInt8] = [0, 0x0a, 0x0d, 0x20, 0x3a, 0x3b, 0x2c, 0x22, 0x5c, 0x7b, 0x7d, 0xff, 0x7f, 0x30, 0x66]
            switch Int.random(in: 0..<6, using: &rng) {
            case 0 where !bytes.isEmpty: bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
            case 1: bytes.insert(interesting.randomElement(using: &rng)!, at: Int.random(in: 0...bytes.count, using: &rng))
            case 2 where !bytes.isEmpty: bytes.remove(at: Int.random(in: 0..<bytes.count, using: &rng))
            case 3 where bytes.count > 2:
                let a = Int.random(in: 0..<bytes.count, using: &rng), b = Int.random(in: a...bytes.count, using: &rng)
                bytes.insert(contentsOf: bytes[a..<b], at: Int.random(in: 0...bytes.count, using: &rng))
            case 4 where !bytes.isEmpty: bytes.removeLast(Int.random(in: 0...bytes.count, using: &rng))
            default: bytes.append(contentsOf: Array(repeating: interesting.randomElement(using: &rng)!, count: Int.random(in: 1...300, using: &rng)))
            }
        }
        return bytes
    }

    func testParsersNeverCrashAndAlwaysAnswerAnErrorStatus() {
        var rng = Generator(state: 0x5eed_51_1ba7)
        let limits = HTTPLimits()
        var outcomes = [String: Int]()
        for i in 0..<40_000 {
            let input = mutate(Array(Self.seeds[i % Self.seeds.count].utf8), &rng)
            switch RequestHeadParser.scan(input[...], limits: limits) {
            case .incomplete:
                outcomes["incomplete", default: 0] += 1
            case .failed(let error):
                XCTAssertTrue((400...505).contains(error.status), "input \(input)")
                XCTAssertTrue(error.closesConnection)
                outcomes["refused", default: 0] += 1
            case .complete(let consumed):
                XCTAssertLessThanOrEqual(consumed, input.count)
                do {
                    let head = try RequestHeadParser.parse(input[0..<consumed])
                    if try BodyFraming.of(head) == .chunked {
                        var decoder = ChunkedDecoder(limits: limits, bodyLimit: 1 << 16)
                        var index = consumed
                        _ = try decoder.feed(input, index: &index)
                        XCTAssertLessThanOrEqual(index, input.count)
                    }
                    outcomes["accepted", default: 0] += 1
                } catch {
                    XCTAssertTrue([400, 413, 431, 501, 505].contains(error.status), "status \(error.status) for \(input)")
                    outcomes["refused", default: 0] += 1
                }
            }
            _ = try? JSONParser.parse(input)
        }
        // The mutations must reach every outcome, or the test is not exercising the parser.
        XCTAssertGreaterThan(outcomes["accepted"] ?? 0, 100)
        XCTAssertGreaterThan(outcomes["refused"] ?? 0, 100)
        XCTAssertGreaterThan(outcomes["incomplete"] ?? 0, 100)
    }
}
