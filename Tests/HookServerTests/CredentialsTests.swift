import Foundation
import PipelineTestSupport
import XCTest
@testable import HookServer

final class CredentialsTests: XCTestCase {
    private var fixture: ServiceFixture!

    override func setUpWithError() throws { fixture = try ServiceFixture() }
    override func tearDown() { fixture.tearDown() }

    private var file: InitialCredentialsFile { InitialCredentialsFile(dataDir: fixture.dir) }

    private func values(in path: String) throws -> [String: String] {
        var values = [String: String]()
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "=", maxSplits: 1)
            values[String(parts[0])] = String(parts[1])
        }
        return values
    }

    func testGeneratedSecretsGoToAFileOnlyTheUserCanReadAndTheyWork() throws {
        let credentials = try Credentials(store: fixture.store, configuredPassword: nil, configuredToken: nil, generatedFile: file)
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        let secrets = try values(in: file.path)
        XCTAssertEqual(Set(secrets.keys), ["SLIPWAY_ADMIN_PASSWORD", "SLIPWAY_API_TOKEN"])
        XCTAssertEqual(credentials.checkAdminPassword(secrets["SLIPWAY_ADMIN_PASSWORD"]!), .valid)
        XCTAssertTrue(credentials.isValidAPIToken("Bearer " + secrets["SLIPWAY_API_TOKEN"]!))

        // A second start generates nothing and leaves the file alone.
        let before = try Data(contentsOf: URL(fileURLWithPath: file.path))
        _ = try Credentials(store: fixture.store, configuredPassword: nil, configuredToken: nil, generatedFile: file)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: file.path)), before)
    }

    func testConfiguredSecretsWriteNoFile() throws {
        _ = try Credentials(store: fixture.store, configuredPassword: "a-long-admin-password", configuredToken: "a-token-of-twenty-four-chars",
                            generatedFile: file)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file.path))
    }

    func testAFileLeftByAnOlderDatabaseIsReplaced() throws {
        // Even a link someone planted: the new file is a plain file of its own.
        let elsewhere = fixture.dir + "/elsewhere"
        XCTAssertTrue(FileManager.default.createFile(atPath: elsewhere, contents: Data("untouched\n".utf8)))
        try FileManager.default.createSymbolicLink(atPath: file.path, withDestinationPath: elsewhere)
        _ = try Credentials(store: fixture.store, configuredPassword: nil, configuredToken: nil, generatedFile: file)
        XCTAssertEqual(try String(contentsOfFile: elsewhere, encoding: .utf8), "untouched\n")
        XCTAssertEqual(Set(try values(in: file.path).keys), ["SLIPWAY_ADMIN_PASSWORD", "SLIPWAY_API_TOKEN"])
    }

    func testTheUnusedSessionKeyIsDeleted() throws {
        try fixture.store.setSetting("session_key", "0123")
        _ = try Credentials(store: fixture.store, configuredPassword: "a-long-admin-password", configuredToken: "a-token-of-twenty-four-chars")
        XCTAssertNil(try fixture.store.setting("session_key"))
    }
}
