import XCTest
@testable import Pipeline

final class ValidationTests: XCTestCase {
    func testRepositoryURLs() {
        let cases: [(String, Bool, RepositoryURL.Kind?)] = [
            ("https://github.com/a/b.git", false, .https),
            ("http://127.0.0.1:9000/r.git", false, .http),
            ("ssh://git@github.com/a/b.git", false, .ssh),
            ("git@github.com:a/b.git", false, .ssh),
            ("/srv/repo", false, nil),
            ("/srv/repo", true, .local),
            ("file:///srv/repo", true, .local),
            ("file:///srv/repo", false, nil),
            ("ftp://x/y", true, nil),
            ("ext::sh -c touch% /tmp/pwned", true, nil),
            ("fd::17", true, nil),
            ("-uhttps://x", true, nil),
            ("https://x/a b", true, nil),
            ("https://x/a\u{7}", true, nil),
            ("https://", true, nil),
            ("", true, nil),
            ("relative/path", true, nil),
            // A host starting with '-' is an ssh option in disguise, in every spelling.
            ("-oProxyCommand=touch%20/tmp/x:repo", true, nil),
            ("git@-oProxyCommand=x:repo", true, nil),
            ("git@-x:repo", true, nil),
            ("a@b@-x:repo", true, nil),
            ("git@[-x]:repo", true, nil),
            ("git@:repo", true, nil),
            ("ssh://-oProxyCommand=x/repo", true, nil),
            ("ssh://git@-x/repo", true, nil),
            ("ssh://git@[-x]:22/repo", true, nil),
            ("https://-x/repo", true, nil),
            ("https://:443/repo", true, nil),
            ("git@x-y.example:repo", false, .ssh),
            ("ssh://git@[::1]:22/repo", false, .ssh),
            ("http://[::1]:8080/r.git", false, .http),
        ]
        for (url, local, expected) in cases {
            XCTAssertEqual(try? RepositoryURL.validate(url, allowLocal: local), expected, url)
        }
    }

    /// A token may travel over http:// only where it never leaves the machine.
    func testWhichURLsWouldSendATokenInCleartext() {
        let cases: [(String, Bool)] = [
            ("https://github.com/a/b.git", false),
            ("ssh://git@github.com/a/b.git", false),
            ("git@github.com:a/b.git", false),
            ("/srv/repo", false),
            ("http://127.0.0.1:9000/r.git", false),
            ("http://127.8.9.10/r.git", false),
            ("HTTP://127.0.0.1/r.git", false),
            ("http://localhost:8080/r.git", false),
            ("http://LOCALHOST/r.git", false),
            ("http://[::1]:8080/r.git", false),
            ("http://[0:0:0:0:0:0:0:1]/r.git", false),
            ("http://example.com/r.git", true),
            ("HTTP://example.com/r.git", true),
            ("http://10.0.0.1/r.git", true),
            ("http://128.0.0.1/r.git", true),
            ("http://127.1/r.git", true),             // another spelling: refusing too much is the safe side
            ("http://2130706433/r.git", true),
            ("http://localhost.example.com/r.git", true),
            ("http://127.0.0.1.nip.io/r.git", true),
            ("http://[::2]/r.git", true),
            ("http://[::ffff:10.0.0.1]/r.git", true),
        ]
        for (url, cleartext) in cases {
            XCTAssertEqual(RepositoryURL.sendsCredentialsInCleartext(url), cleartext, url)
        }
    }

    func testBranchNamesFollowCheckRefFormat() {
        for good in ["main", "feature/x", "release-1.2", "a_b", "v1.0"] { XCTAssertTrue(BranchName.isValid(good), good) }
        for bad in ["", "-x", "a..b", "x.lock", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[", "a\\b", "/a", "a/", "a//b",
                    ".hidden", "a/.b", "a.", "@", "a@{1}", "a\u{1}"] {
            XCTAssertFalse(BranchName.isValid(bad), bad)
        }
    }

    func testAppNames() {
        XCTAssertTrue(AppName.isValid("my-app-2"))
        for bad in ["", "My-App", "-a", "a-", "a_b", String(repeating: "a", count: 41), "a.b"] { XCTAssertFalse(AppName.isValid(bad), bad) }
        XCTAssertEqual(AppName.derive(from: "https://github.com/Owner/My_Repo.git"), "my-repo")
        XCTAssertEqual(AppName.derive(from: "git@github.com:o/Thing.git/"), "thing")
        XCTAssertEqual(AppName.derive(from: "/tmp/x/---"), "app")
    }

    func testEnvNamesAndValues() {
        XCTAssertNoThrow(try AppValidation.env([("GREETING", "hello world"), ("_X1", "")]))
        for bad in [("1A", "x"), ("A-B", "x"), ("", "x"), ("A B", "x")] {
            XCTAssertThrowsError(try AppValidation.env([bad])) { XCTAssertEqual(($0 as? ValidationError)?.field, "env") }
        }
        XCTAssertThrowsError(try AppValidation.env([("A", "line\nbreak")]))
        XCTAssertThrowsError(try AppValidation.env([("A", "nul\u{0}")]))
        XCTAssertThrowsError(try AppValidation.env([("A", "1"), ("A", "2")])) { XCTAssertTrue(($0 as? ValidationError)?.message.contains("more than once") == true) }
    }

    func testSettingsRanges() {
        XCTAssertThrowsError(try AppValidation.internalPort(0))
        XCTAssertThrowsError(try AppValidation.internalPort(70000))
        XCTAssertThrowsError(try AppValidation.healthPath("health"))
        XCTAssertThrowsError(try AppValidation.healthPath("/a b"))
        XCTAssertThrowsError(try AppValidation.memoryMB(1))
        XCTAssertThrowsError(try AppValidation.cpus(0))
        XCTAssertThrowsError(try AppValidation.ref("--output=/x"))
        XCTAssertNoThrow(try AppValidation.ref("v1.2.3"))
    }

    /// max_request_body: 1 byte to 64 GiB; as text, what the size flags take. Each refusal names
    /// the field and the value.
    func testTheBodyLimit() {
        for ok in [1, 1000, 64 << 30] { XCTAssertNoThrow(try AppValidation.maxRequestBody(ok), "\(ok)") }
        for bad in [0, -1, (64 << 30) + 1, Int.max] {
            XCTAssertThrowsError(try AppValidation.maxRequestBody(bad)) {
                XCTAssertEqual($0 as? ValidationError, ValidationError("max_request_body",
                               "max_request_body must be from 1 byte to 64g (68719476736 bytes), got \(bad)"))
            }
        }
        XCTAssertEqual(try AppValidation.byteSize("10m", field: "max_request_body"), 10 << 20)
        XCTAssertEqual(try AppValidation.byteSize("1000", field: "max_request_body"), 1000)
        let long = String(repeating: "9", count: 50)
        for (bad, shown) in [("10x", "10x"), ("", ""), ("1.5m", "1.5m"), (long, String(long.prefix(40)) + "...")] {
            XCTAssertThrowsError(try AppValidation.byteSize(bad, field: "max_request_body")) {
                XCTAssertEqual($0 as? ValidationError, ValidationError("max_request_body",
                               "max_request_body must be a number of bytes, or one with a k, m or g suffix such as 10m; got '\(shown)'"))
            }
        }
    }

    func testDeploymentStateTransitions() {
        XCTAssertTrue(DeploymentStatus.queued.canMove(to: .cloning))
        XCTAssertTrue(DeploymentStatus.queued.canMove(to: .starting)) // a rollback skips clone and build
        XCTAssertTrue(DeploymentStatus.queued.canMove(to: .superseded))
        XCTAssertFalse(DeploymentStatus.building.canMove(to: .superseded))
        XCTAssertFalse(DeploymentStatus.checking.canMove(to: .building))
        XCTAssertTrue(DeploymentStatus.building.canMove(to: .cancelled))
        for finished in DeploymentStatus.allCases where finished.isFinished {
            XCTAssertFalse(finished.canMove(to: .failed), "\(finished) is terminal")
        }
        XCTAssertEqual(DeploymentStatus.checking.next, .succeeded)
    }

    func testVolumesAreNamedVolumesAtAbsolutePathsEachOnce() throws {
        XCTAssertEqual(try AppValidation.volumes([AppVolume(name: "data", path: "/app/data/"), AppVolume(name: "up_loads.1", path: "/srv/u")]),
                       [AppVolume(name: "data", path: "/app/data"), AppVolume(name: "up_loads.1", path: "/srv/u")],
                       "a trailing / is dropped")
        let refused: [([AppVolume], String)] = [
            ([AppVolume(name: "data", path: "app/data")], "absolute"),
            ([AppVolume(name: "data", path: "/")], "below /"),
            ([AppVolume(name: "data", path: "/a/../etc")], "'..'"),
            ([AppVolume(name: "data", path: "/a/./b")], "'.'"),
            ([AppVolume(name: "data", path: "/a//b")], "empty"),
            ([AppVolume(name: "data", path: "/a,readonly")], "cannot carry"),
            ([AppVolume(name: "data", path: "/a:/b")], "cannot carry"),
            ([AppVolume(name: "/etc", path: "/x")], "not a volume name"),
            ([AppVolume(name: "my-data", path: "/x")], "not a volume name"),
            ([AppVolume(name: "Data", path: "/x")], "not a volume name"),
            ([AppVolume(name: "", path: "/x")], "not a volume name"),
            ([AppVolume(name: "a", path: "/x"), AppVolume(name: "a", path: "/y")], "the name a is given more than once"),
            ([AppVolume(name: "a", path: "/x"), AppVolume(name: "b", path: "/x/")], "the path /x is given more than once"),
            ((0...AppValidation.maxVolumes).map { AppVolume(name: "v\($0)", path: "/v\($0)") }, "at most"),
        ]
        for (volumes, needle) in refused {
            XCTAssertThrowsError(try AppValidation.volumes(volumes), "\(volumes)") { error in
                let message = (error as? ValidationError)?.message ?? ""
                XCTAssertEqual((error as? ValidationError)?.field, "volumes")
                XCTAssertTrue(message.contains(needle), "\(volumes): \(message)")
            }
        }
    }
}
