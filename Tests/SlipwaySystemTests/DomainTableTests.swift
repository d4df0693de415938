import XCTest
@testable import SlipwaySystem

final class DomainTableTests: XCTestCase {
    private let table = DomainTable<String>([
        ("example.com", "apex"),
        ("www.example.com", "www"),
        ("*.example.com", "wild"),
        ("*.b.example.com", "wild-b"),
        ("api.b.example.com", "api-b"),
        ("xn--bcher-kva.example", "idn"),
    ])

    /// Host header values as browsers and clients send them, and the app each goes to.
    func testResolvesExactFirstThenTheWildcardOfTheParent() {
        let cases: [(String, String?)] = [
            ("example.com", "apex"),
            ("www.example.com", "www"),
            ("shop.example.com", "wild"),
            // Exactly one label more, as TLS wildcards: neither the parent nor two labels deeper.
            ("a.b.example.com", "wild-b"),
            ("x.y.z.example.com", nil),
            ("api.b.example.com", "api-b"),
            ("b.example.com", "wild"),
            ("example.org", nil),
            ("com", nil),
            // Case, ports and one trailing dot do not matter.
            ("WWW.Example.COM", "www"),
            ("www.example.com:8080", "www"),
            ("www.example.com.", "www"),
            ("www.example.com.:443", "www"),
            ("Shop.Example.Com:80", "wild"),
            ("www.example.com:", "www"),
            ("xn--bcher-kva.example", "idn"),
            // Values that can be no stored name match nothing, not even by their parent.
            ("*.example.com", nil),
            (".example.com", nil),
            ("a..example.com", nil),
            ("www.example.com..", nil),
            ("www.example.com:80x", nil),
            ("www.example.com:80:80", nil),
            ("ww w.example.com", nil),
            ("wüw.example.com", nil),
            ("[::1]:80", nil),
            ("[::1]", nil),
            ("127.0.0.1", nil),
            ("", nil),
            (".", nil),
            (":80", nil),
        ]
        for (host, expected) in cases { XCTAssertEqual(table.resolve(host: host), expected, host) }
    }

    func testHostNames() {
        let cases: [(String, String?)] = [
            ("Example.COM", "example.com"),
            ("example.com.", "example.com"),
            ("example.com:8443", "example.com"),
            ("localhost", "localhost"),
            ("127.0.0.1:5000", "127.0.0.1"),
            ("a_b.example.com", nil),
            ("example.com/path", nil),
        ]
        for (host, expected) in cases { XCTAssertEqual(DomainTable<Int>.hostName(host), expected, host) }
    }

    func testAnEmptyTableMatchesNothingAndAFirstEntryWins() {
        XCTAssertNil(DomainTable<Int>([]).resolve(host: "example.com"))
        let twice = DomainTable([("example.com", 1), ("Example.com", 2), ("*.example.com", 3), ("*.EXAMPLE.com", 4)])
        XCTAssertEqual(twice.resolve(host: "example.com"), 1)
        XCTAssertEqual(twice.resolve(host: "x.example.com"), 3)
        XCTAssertEqual(twice.count, 2)
    }
}
