import Foundation
import PipelineTestSupport
import XCTest
@testable import Pipeline

/// A git token is never paired with a URL that would carry it in cleartext, whichever of the two
/// changes, and the error names the one that did.
final class GitTokenTransportTests: XCTestCase {
    private var fixture: ServiceFixture!
    private var service: AppService!
    private let token = "ghp_ZZsecretZZ"

    override func setUpWithError() throws {
        fixture = try ServiceFixture()
        service = try fixture.makeService()
    }

    override func tearDown() {
        fixture.tearDown()
    }

    private func create(_ name: String, _ url: String, token: String? = nil) throws -> App {
        try service.create(.init(name: name, settings: AppSettings(repoURL: url), env: [], deploy: false, gitToken: token)).app
    }

    private func assertRefused(_ field: String, _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let error = error as? ValidationError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(error.field, field, file: file, line: line)
            XCTAssertTrue(error.message.contains("cleartext"), error.message, file: file, line: line)
            XCTAssertFalse(error.message.contains("ZZsecretZZ"), file: file, line: line)
        }
    }

    func testCreate() throws {
        assertRefused("git_token") { _ = try create("remote", "http://example.com/r.git", token: token) }
        XCTAssertNil(try fixture.store.app(named: "remote"), "nothing was stored")
        for (name, url) in [("v4", "http://127.0.0.1:9/r.git"), ("name", "http://localhost:9/r.git"), ("v6", "http://[::1]:9/r.git"),
                            ("tls", "https://example.com/r.git")] {
            XCTAssertNotNil(try create(name, url, token: token).gitToken, url)
        }
        XCTAssertNil(try create("public", "http://example.com/r.git").gitToken, "no token, no problem")
    }

    func testUpdateAndSetGitToken() throws {
        let open = try create("open", "http://example.com/r.git")
        assertRefused("git_token") { _ = try service.update(open, settings: AppSettings(of: open), env: nil, gitToken: .set(token)) }
        assertRefused("git_token") { try service.setGitToken(open, token) }
        XCTAssertNil(try fixture.store.app(id: open.id)?.gitToken)
        // Both at once: the token is what is refused.
        var tls = AppSettings(of: open)
        tls.repoURL = "https://example.com/r.git"
        XCTAssertNotNil(try service.update(open, settings: tls, env: nil, gitToken: .set(token)).gitToken)

        let secured = try create("secured", "https://example.com/r.git", token: token)
        var cleartext = AppSettings(of: secured)
        cleartext.repoURL = "http://example.com/other.git"
        assertRefused("repo_url") { _ = try service.update(secured, settings: cleartext, env: nil) }
        XCTAssertEqual(try fixture.store.app(id: secured.id)?.repoURL, "https://example.com/r.git", "nothing was stored")
        // Clearing the token with the move is fine, and so is a loopback URL.
        XCTAssertNil(try service.update(secured, settings: cleartext, env: nil, gitToken: .clear).gitToken)
        let again = try create("again", "https://example.com/r.git", token: token)
        var local = AppSettings(of: again)
        local.repoURL = "http://127.0.0.1:8080/r.git"
        XCTAssertEqual(try service.update(again, settings: local, env: nil).repoURL, local.repoURL)
    }
}
