import XCTest
@testable import SlipwayCrypto

final class CryptoTests: XCTestCase {
    private func bytes(_ hex: String) -> [UInt8] { Hex.decode(hex)! }

    /// RFC 4231 test cases 1-4, 6 and 7 (5 is a truncated MAC, which we never use).
    func testHMACSHA256MatchesRFC4231() {
        let cases: [(key: [UInt8], data: [UInt8], mac: String)] = [
            ([UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8),
             "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            ([UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50),
             "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
            (bytes("0102030405060708090a0b0c0d0e0f10111213141516171819"), [UInt8](repeating: 0xcd, count: 50),
             "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
            ([UInt8](repeating: 0xaa, count: 131),
             Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
             "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
            ([UInt8](repeating: 0xaa, count: 131),
             Array("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".utf8),
             "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
        ]
        for (i, c) in cases.enumerated() {
            XCTAssertEqual(Hex.encode(Crypto.hmacSHA256(key: c.key, message: c.data)), c.mac, "RFC 4231 case \(i)")
        }
    }

    /// GitHub's documented example for validating webhook deliveries.
    func testGitHubWebhookVector() {
        let body = Array("Hello, World!".utf8)
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        XCTAssertEqual(WebhookSignature.sign(body: body, secret: "It's a Secret to Everybody"), header)
        XCTAssertTrue(WebhookSignature.isValid(header: header, body: body, secret: "It's a Secret to Everybody"))
        XCTAssertFalse(WebhookSignature.isValid(header: header, body: body, secret: "another secret"))
        XCTAssertFalse(WebhookSignature.isValid(header: header, body: Array("Hello, World?".utf8),
                                                secret: "It's a Secret to Everybody"))
        XCTAssertFalse(WebhookSignature.isValid(header: nil, body: body, secret: "It's a Secret to Everybody"))
        XCTAssertFalse(WebhookSignature.isValid(header: "sha1=757107ea", body: body, secret: "x"))
        XCTAssertFalse(WebhookSignature.isValid(header: "sha256=zz", body: body, secret: "x"))
    }

    func testSHA256KnownAnswer() {
        XCTAssertEqual(Hex.encode(Crypto.sha256(Array("abc".utf8))),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(Hex.encode(Crypto.sha256([])),
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    /// RFC 7914 section 11's PBKDF2-HMAC-SHA256 vector.
    func testPBKDF2KnownAnswer() {
        let out = Crypto.pbkdf2SHA256(password: Array("passwd".utf8), salt: Array("salt".utf8), iterations: 1, length: 64)
        XCTAssertEqual(Hex.encode(out), "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783")
    }

    func testConstantTimeEqual() {
        XCTAssertTrue(Crypto.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        XCTAssertFalse(Crypto.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        XCTAssertFalse(Crypto.constantTimeEqual([1, 2, 3], [1, 2]))
        XCTAssertTrue(Crypto.constantTimeEqual([], []))
    }

    func testRandomBytesDiffer() {
        let a = Crypto.randomBytes(32), b = Crypto.randomBytes(32)
        XCTAssertEqual(a.count, 32)
        XCTAssertNotEqual(a, b)
    }

    func testPasswordHashRoundTrip() {
        let stored = PasswordHash.make(password: "correct horse", iterations: 1000)
        XCTAssertTrue(stored.hasPrefix("pbkdf2-sha256$1000$"))
        XCTAssertTrue(PasswordHash.verify(password: "correct horse", against: stored))
        XCTAssertFalse(PasswordHash.verify(password: "wrong horse", against: stored))
        XCTAssertFalse(PasswordHash.verify(password: "x", against: "garbage"))
        XCTAssertFalse(stored.contains("correct horse"))
        XCTAssertGreaterThanOrEqual(PasswordHash.iterations, 600_000)
    }

    func testHexRoundTripAndRejects() {
        XCTAssertEqual(Hex.encode([0, 0xff, 0x10]), "00ff10")
        XCTAssertEqual(Hex.decode("00FF10"), [0, 0xff, 0x10])
        XCTAssertNil(Hex.decode("abc"))
        XCTAssertNil(Hex.decode("zz"))
    }
}
