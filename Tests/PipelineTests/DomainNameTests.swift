import SlipwaySystem
import XCTest
@testable import Pipeline

final class DomainNameTests: XCTestCase {
    func testNamesAreStoredLowercaseWithoutTheTrailingDot() throws {
        let label63 = String(repeating: "a", count: 63)
        // 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters.
        let longest = [label63, label63, label63, String(repeating: "b", count: 57) + ".com"].joined(separator: ".")
        XCTAssertEqual(longest.count, 253)
        let cases: [(String, String)] = [
            ("example.com", "example.com"),
            ("Example.COM", "example.com"),
            ("www.example.com.", "www.example.com"),
            ("*.example.com", "*.example.com"),
            ("*.Apps.Example.com.", "*.apps.example.com"),
            ("a-b.c-d.example", "a-b.c-d.example"),
            ("r4---sn-abc.example.com", "r4---sn-abc.example.com"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("123.example.com", "123.example.com"),
            ("web.localhost", "web.localhost"),
            ("example.xn--p1ai", "example.xn--p1ai"),
            ("\(label63).com", "\(label63).com"),
            (longest, longest),
            (longest + ".", longest),
        ]
        for (text, stored) in cases {
            XCTAssertEqual(try DomainName(parsing: text).value, stored, text)
        }
        XCTAssertTrue(try DomainName(parsing: "*.example.com").isWildcard)
        XCTAssertFalse(try DomainName(parsing: "example.com").isWildcard)
    }

    /// Each refusal names the name and says why, exactly.
    func testRefusalsNameTheNameAndTheReason() {
        let label64 = String(repeating: "a", count: 64)
        let tooLong = [String](repeating: String(repeating: "a", count: 63), count: 4).joined(separator: ".")
        let cases: [(String, String)] = [
            ("", "an empty name is not a domain"),
            ("https://example.com", "https://example.com is a URL or a path; give the host name alone, as in example.com"),
            ("example.com/x", "example.com/x is a URL or a path; give the host name alone, as in example.com"),
            ("example.com:8080", "example.com:8080 has a port; give the host name alone"),
            ("192.0.2.1", "192.0.2.1 is an IP address; a domain is a host name"),
            ("192.0.2.1.", "192.0.2.1. is an IP address; a domain is a host name"),
            ("::1", "::1 is an IP address; a domain is a host name"),
            ("2001:db8::1", "2001:db8::1 is an IP address; a domain is a host name"),
            ("[::1]", "[::1] is an IP address; a domain is a host name"),
            ("bücher.example", "bücher.example is not ASCII; give an internationalized name in punycode (xn--...)"),
            ("localhost", "localhost is this machine's loopback name, which the dashboard answers to; a name under it, such as web.localhost, works"),
            ("LOCALHOST.", "LOCALHOST. is this machine's loopback name, which the dashboard answers to; a name under it, such as web.localhost, works"),
            ("example", "example is a single label; a domain has at least two, as in example.com"),
            ("example.", "example. is a single label; a domain has at least two, as in example.com"),
            ("a..example.com", "a..example.com has an empty label"),
            (".example.com", ".example.com has an empty label"),
            ("example.com..", "example.com.. has an empty label"),
            (".", ". has an empty label"),
            ("\(label64).com", "\(label64).com has a label longer than 63 characters"),
            (tooLong, "\(tooLong) is longer than 253 characters"),
            ("exa_mple.com", "exa_mple.com has the character '_'; a label is letters, digits and hyphens"),
            ("exa mple.com", "exa mple.com has the character ' '; a label is letters, digits and hyphens"),
            ("-example.com", "-example.com has a label that starts or ends with a hyphen"),
            ("example-.com", "example-.com has a label that starts or ends with a hyphen"),
            ("www.example.-com", "www.example.-com has a label that starts or ends with a hyphen"),
            ("w*.example.com", "w*.example.com has a '*' that is not the whole first label; a wildcard is written *.example.com"),
            ("www.*.example.com", "www.*.example.com has a '*' that is not the whole first label; a wildcard is written *.example.com"),
            ("**.example.com", "**.example.com has a '*' that is not the whole first label; a wildcard is written *.example.com"),
            ("*.com", "*.com would cover a whole top-level domain; write a wildcard as *.example.com"),
            ("*", "* would cover a whole top-level domain; write a wildcard as *.example.com"),
            ("example.123", "example.123 ends in a numeric label, which browsers read as an IP address"),
            ("1.2.3", "1.2.3 ends in a numeric label, which browsers read as an IP address"),
            ("0x7f.1", "0x7f.1 ends in a numeric label, which browsers read as an IP address"),
            ("example.0x1f", "example.0x1f ends in a numeric label, which browsers read as an IP address"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try DomainName(parsing: text), text) { error in
                XCTAssertEqual((error as? DomainName.Invalid)?.description, message, text)
            }
        }
    }

    /// The list as the API and the forms give it: at most 100, each once, none of the dashboard's.
    func testAListIsCheckedAsAWholeAndKeepsItsOrder() throws {
        XCTAssertEqual(try AppValidation.domains(["b.example.com", "*.example.com", "A.example.com."]).map(\.value),
                       ["b.example.com", "*.example.com", "a.example.com"])
        XCTAssertEqual(try AppValidation.domains([]), [])
        let hundred = (1...100).map { "n\($0).example.com" }
        XCTAssertEqual(try AppValidation.domains(hundred).count, 100)
        let cases: [([String], String)] = [
            (hundred + ["n101.example.com"], "domains: at most 100 per app, got 101"),
            (["example.com", "Example.com."], "domains: example.com is given more than once"),
            (["ok.example.com", "bad_name.example.com"],
             "domains: bad_name.example.com has the character '_'; a label is letters, digits and hyphens"),
            (["deploy.example.com"], "domains: deploy.example.com is the dashboard's own host name; an app cannot have it"),
            (["Deploy.Example.com."], "domains: deploy.example.com is the dashboard's own host name; an app cannot have it"),
        ]
        for (names, message) in cases {
            XCTAssertThrowsError(try AppValidation.domains(names, reserved: ["deploy.example.com"]), message) { error in
                XCTAssertEqual(error as? ValidationError, ValidationError("domains", message))
            }
        }
    }

    /// What Pipeline stores is what the edge's table looks up: the two agree on the form of a name.
    func testStoredNamesResolveInTheEdgesTable() throws {
        let names = try ["Shop.Example.com.", "*.example.com", "example.org"].map { try DomainName(parsing: $0) }
        let table = DomainTable(names.enumerated().map { ($0.element.value, $0.offset) })
        XCTAssertEqual(table.resolve(host: "shop.example.com:443"), 0)
        XCTAssertEqual(table.resolve(host: "www.example.com"), 1)
        XCTAssertEqual(table.resolve(host: "EXAMPLE.ORG."), 2)
        XCTAssertNil(table.resolve(host: "example.com"))
    }
}
