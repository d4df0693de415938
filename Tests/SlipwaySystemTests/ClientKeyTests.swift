import XCTest
@testable import SlipwaySystem

final class ClientKeyTests: XCTestCase {
    func testIPv4IsItselfAndIPv6IsItsSlash64() {
        let cases: [(String, String)] = [
            ("192.0.2.1", "192.0.2.1"),
            ("127.0.0.1", "127.0.0.1"),
            ("2001:db8::1", "2001:db8:0:0::/64"),
            ("2001:db8:0:0:ffff:ffff:ffff:ffff", "2001:db8:0:0::/64"),
            ("2001:DB8:0:0:1::", "2001:db8:0:0::/64"),
            ("2001:db8:0:1::1", "2001:db8:0:1::/64"),
            ("::1", "0:0:0:0::/64"),
            ("::ffff:192.0.2.7", "192.0.2.7"),
            ("unknown", "unknown"),
        ]
        for (address, key) in cases { XCTAssertEqual(ClientKey.of(address), key, address) }
    }
}
