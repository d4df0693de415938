import XCTest
@testable import HookServer

final class HostNamesTests: XCTestCase {
    func testWhichHostHeadersAreThisServers() {
        let cases: [(host: String, publicURL: String?, header: String?, accepted: Bool)] = [
            // Loopback names, with or without a port, in any case.
            ("127.0.0.1", nil, "127.0.0.1:5000", true),
            ("127.0.0.1", nil, "LOCALHOST:5000", true),
            ("127.0.0.1", nil, "localhost.", true),
            ("127.0.0.1", nil, "127.8.9.10", true),
            ("127.0.0.1", nil, "[::1]:5000", true),
            ("127.0.0.1", nil, "[0:0:0:0:0:0:0:1]", true),
            // A rebinding attacker's name, and other names.
            ("127.0.0.1", nil, "evil.example", false),
            ("127.0.0.1", nil, "evil.example:5000", false),
            ("127.0.0.1", nil, "localhost.evil.example", false),
            ("127.0.0.1", nil, "127.0.0.1.evil.example", false),
            ("127.0.0.1", nil, "128.0.0.1", false),
            ("127.0.0.1", nil, "0.0.0.0:5000", false),
            // Malformed: an empty name, a bad port, an unbracketed IPv6 address, user info.
            ("127.0.0.1", nil, "", false),
            ("127.0.0.1", nil, "localhost:", false),
            ("127.0.0.1", nil, "localhost:50x", false),
            ("127.0.0.1", nil, "::1", false),
            ("127.0.0.1", nil, "evil.example@localhost", false),
            // No Host at all: only HTTP/1.0 clients, never a browser.
            ("127.0.0.1", nil, nil, true),
            // --host.
            ("192.0.2.10", nil, "192.0.2.10:5000", true),
            ("192.0.2.10", nil, "192.0.2.11:5000", false),
            ("fd00::5", nil, "[FD00:0::5]:5000", true),
            ("deploy.lan", nil, "Deploy.LAN:5000", true),
            // A wildcard --host is no name.
            ("0.0.0.0", nil, "0.0.0.0:5000", false),
            ("0.0.0.0", nil, "192.0.2.10:5000", false),
            ("::", nil, "[::]:5000", false),
            // --public-url's host, whatever its scheme, port, path or user info.
            ("0.0.0.0", "https://deploy.example.com", "deploy.example.com", true),
            ("0.0.0.0", "https://Deploy.Example.com:8443/slipway/", "deploy.example.com:8443", true),
            ("127.0.0.1", "http://user@deploy.example.com", "deploy.example.com", true),
            ("127.0.0.1", "https://deploy.example.com", "apps.example.com", false),
        ]
        for c in cases {
            let names = HostNames(host: c.host, publicURL: c.publicURL)
            XCTAssertEqual(names.accepts(host: c.header), c.accepted, "--host \(c.host) --public-url \(c.publicURL ?? "-"): Host \(c.header ?? "none")")
        }
    }

    func testWhichOriginsAreThisServersPages() {
        let cases: [(publicURL: String?, origin: String, host: String, accepted: Bool)] = [
            (nil, "http://127.0.0.1:5000", "127.0.0.1:5000", true),
            (nil, "http://localhost:5000", "127.0.0.1:5000", true),
            (nil, "HTTP://LOCALHOST:5000", "localhost:5000", true),
            // Under DNS rebinding, Origin and Host name the attacker alike: refused.
            (nil, "http://evil.example:5000", "evil.example:5000", false),
            // An app on another port of the same name is another origin.
            (nil, "http://127.0.0.1:8001", "127.0.0.1:5000", false),
            (nil, "http://127.0.0.1", "127.0.0.1:5000", false),
            (nil, "null", "127.0.0.1:5000", false),
            (nil, "http://127.0.0.1:5000/path", "127.0.0.1:5000", false),
            // Behind a proxy: the public URL's origin, default port or not, and whatever Host the proxy passes.
            ("https://deploy.example.com/", "https://deploy.example.com", "127.0.0.1:5000", true),
            ("https://deploy.example.com:443", "https://deploy.example.com", "127.0.0.1:5000", true),
            ("https://deploy.example.com:8443", "https://deploy.example.com:8443", "deploy.example.com:8443", true),
            ("https://deploy.example.com", "https://apps.example.com", "deploy.example.com", false),
            ("https://deploy.example.com", "https://deploy.example.com:8001", "127.0.0.1:5000", false),
        ]
        for c in cases {
            let names = HostNames(host: "127.0.0.1", publicURL: c.publicURL)
            XCTAssertEqual(names.accepts(origin: c.origin, host: c.host), c.accepted,
                           "--public-url \(c.publicURL ?? "-"): Origin \(c.origin) to Host \(c.host)")
        }
    }

    func testTheMisdirectedAnswerSaysWhatToConfigureAndRepeatsNoName() {
        let wildcard = HostNames(host: "0.0.0.0", publicURL: nil).misdirected
        XCTAssertEqual(wildcard.status, 421)
        XCTAssertEqual(wildcard.code, "misdirected_request")
        XCTAssertTrue(wildcard.message.contains("--public-url"), wildcard.message)
        let named = HostNames(host: "127.0.0.1", publicURL: "https://secret-name.example.com").misdirected
        XCTAssertFalse(named.message.contains("secret-name"), named.message)
        XCTAssertEqual(named.status, 421)
    }

    func testSharedCookieWarningOnlyForANonLoopbackNameTheAppsShare() {
        let cases: [(host: String, publicURL: String?, appsHost: String?, shared: String?)] = [
            ("127.0.0.1", nil, nil, nil),
            ("127.0.0.1", nil, "127.0.0.1", nil),
            ("0.0.0.0", nil, nil, nil),
            ("192.0.2.10", nil, nil, "192.0.2.10"),
            ("192.0.2.10", nil, "apps.lan", nil),
            ("0.0.0.0", "https://deploy.example.com", nil, "deploy.example.com"),
            ("0.0.0.0", "https://deploy.example.com", "Deploy.Example.com", "deploy.example.com"),
            ("0.0.0.0", "https://deploy.example.com", "apps.example.com", nil),
            // Bound to loopback behind a proxy: the apps are reachable by no other name.
            ("127.0.0.1", "https://deploy.example.com", nil, nil),
            ("127.0.0.1", "http://slipway.test:5000", "slipway.test", "slipway.test"),
        ]
        for c in cases {
            XCTAssertEqual(HostNames.sharedWithApps(host: c.host, publicURL: c.publicURL, appsHost: c.appsHost), c.shared,
                           "--host \(c.host) --public-url \(c.publicURL ?? "-") --apps-host \(c.appsHost ?? "-")")
        }
    }
}
