import XCTest
@testable import HookServer

final class CommandLineParserTests: XCTestCase {
    private func config(_ args: [String], env: [String: String] = [:]) throws -> Configuration {
        guard case .serve(let c) = try CommandLineParser.parse(args, environment: env) else { throw UsageError(message: "not serve") }
        return c
    }

    func testDefaults() throws {
        let c = try config([])
        XCTAssertEqual(c.host, "127.0.0.1")
        XCTAssertEqual(c.port, 5000)
        XCTAssertEqual(c.dataDir, "./data")
        XCTAssertEqual(c.appPorts, 8001...8100)
        XCTAssertEqual(c.effectiveAppsHost, "127.0.0.1")
        XCTAssertFalse(c.allowLocalRepos)
        XCTAssertEqual(c.dockerExecutable, "docker")
        XCTAssertEqual(c.builder, .auto)
    }

    func testDockerClientAndBuilder() throws {
        let c = try config(["--docker", "/usr/bin/docker", "--builder", "classic"], env: ["SLIPWAY_BUILDER": "buildkit"])
        XCTAssertEqual(c.dockerExecutable, "/usr/bin/docker")
        XCTAssertEqual(c.builder, .classic)
        XCTAssertEqual(try config([], env: ["SLIPWAY_BUILDER": "buildkit"]).builder, .buildkit)
    }

    func testFlagsOverrideEnvironment() throws {
        let env = ["SLIPWAY_PORT": "6000", "SLIPWAY_HOST": "0.0.0.0", "SLIPWAY_ALLOW_LOCAL_REPOS": "1"]
        let c = try config(["serve", "--port", "7000", "--app-ports=9000-9010"], env: env)
        XCTAssertEqual(c.port, 7000)
        XCTAssertEqual(c.host, "0.0.0.0")
        XCTAssertEqual(c.appPorts, 9000...9010)
        XCTAssertTrue(c.allowLocalRepos)
    }

    /// `off` makes an edge-only server: apps get no port.
    func testAppPortsOff() throws {
        XCTAssertNil(try config(["--app-ports", "off"]).appPorts)
        XCTAssertNil(try config([], env: ["SLIPWAY_APP_PORTS": "off"]).appPorts)
        XCTAssertEqual(try config(["--app-ports", "9000-9001"], env: ["SLIPWAY_APP_PORTS": "off"]).appPorts, 9000...9001)
        XCTAssertThrowsError(try config(["--app-ports", "none"])) { error in
            XCTAssertEqual((error as? UsageError)?.message,
                           "--app-ports: expected a range LOW-HIGH within 1-65535 with LOW <= HIGH, or off, got 'none'")
        }
    }

    /// The names no app may have as a domain: the public URL's host and --host, normalized.
    func testDashboardHostNames() throws {
        XCTAssertEqual(try config(["--public-url", "https://Deploy.Example.com:8443/"]).dashboardHostNames,
                       ["deploy.example.com", "127.0.0.1"])
        XCTAssertEqual(try config(["--host", "0.0.0.0"]).dashboardHostNames, [])
    }

    func testInvalidValuesNameTheFlag() {
        let cases: [([String], [String: String], String)] = [
            (["--port", "notanumber"], [:], "--port"),
            (["--port", "70000"], [:], "--port"),
            (["--app-ports", "9000-8000"], [:], "--app-ports"),
            (["--app-ports", "abc"], [:], "--app-ports"),
            (["--public-url", "ftp://x"], [:], "--public-url"),
            (["--bogus"], [:], "--bogus"),
            (["--port"], [:], "--port"),
            ([], ["SLIPWAY_PORT": "x"], "SLIPWAY_PORT"),
            (["--builder", "kaniko"], [:], "--builder"),
            (["--docker", ""], [:], "--docker"),
        ]
        for (args, env, name) in cases {
            XCTAssertThrowsError(try CommandLineParser.parse(args, environment: env)) { error in
                XCTAssertTrue((error as! UsageError).message.contains(name), "\(args) → \(error)")
            }
        }
    }

    func testHelpAndVersion() throws {
        guard case .help = try CommandLineParser.parse(["--help"], environment: [:]) else { return XCTFail() }
        guard case .version = try CommandLineParser.parse(["--version"], environment: [:]) else { return XCTFail() }
        XCTAssertTrue(CommandLineParser.helpText.contains("--data-dir"))
    }

    func testSizesTakeBytesOrASuffix() throws {
        let c = try config(["--webhook-body-limit", "64k", "--max-body-memory", "2G", "--keep-deliveries", "10", "--max-app-connections", "7"])
        XCTAssertEqual(c.webhookBodyLimit, 64 * 1024)
        XCTAssertEqual(c.maxBodyMemory, 2 << 30)
        XCTAssertEqual(c.keepDeliveries, 10)
        XCTAssertEqual(c.maxAppConnections, 7)
        XCTAssertEqual(try config([], env: ["SLIPWAY_WEBHOOK_BODY_LIMIT": "2048"]).webhookBodyLimit, 2048)
        XCTAssertEqual(try config([]).webhookBodyLimit, 25 * 1024 * 1024)
        for bad in ["", "k", "12x", "-5m", "1.5m", "99999999999999g", "10"] {
            XCTAssertThrowsError(try config(["--webhook-body-limit", bad]), bad) { error in
                XCTAssertTrue((error as? UsageError)?.message.hasPrefix("--webhook-body-limit: expected a size") == true, "\(error)")
            }
        }
    }

    func testTheEdgeIsOffByDefaultAndTheDashboardDomainGivesThePublicURL() throws {
        let plain = try config([])
        XCTAssertNil(plain.httpPort)
        XCTAssertNil(plain.edgeServerOptions)
        XCTAssertEqual(plain.maxRequestBody, 100 * 1024 * 1024)

        let edge = try config(["--http-port", "8080", "--dashboard-domain", "Slipway.Example.com", "--max-request-body", "5m"])
        XCTAssertEqual(edge.edgeServerOptions?.port, 8080)
        XCTAssertEqual(edge.edgeServerOptions?.minimumWorkers, edge.serverOptions.minimumWorkers + 1,
                       "a spare worker while proxied requests wait on their apps")
        XCTAssertEqual(edge.dashboardDomain, "slipway.example.com")
        XCTAssertEqual(edge.publicURL, "http://slipway.example.com:8080")
        XCTAssertEqual(edge.maxRequestBody, 5 * 1024 * 1024)
        XCTAssertEqual(try config(["--http-port", "80", "--dashboard-domain", "d.example"]).publicURL, "http://d.example")
        XCTAssertEqual(try config(["--http-port", "80", "--dashboard-domain", "d.example", "--public-url", "https://x.example"]).publicURL,
                       "https://x.example")
        XCTAssertEqual(try config([], env: ["SLIPWAY_HTTP_PORT": "81", "SLIPWAY_DASHBOARD_DOMAIN": "e.example"]).publicURL, "http://e.example:81")

        for args in [["--dashboard-domain", "d.example"], ["--http-port", "80", "--dashboard-domain", "bad_name"],
                     ["--http-port", "80", "--dashboard-domain", "a..b"]] {
            XCTAssertThrowsError(try CommandLineParser.parse(args, environment: [:]), "\(args)")
        }
    }

    func testHTTPSAndACMEFlags() throws {
        let plain = try config([])
        XCTAssertNil(plain.httpsPort)
        XCTAssertNil(plain.acmeEmail, "ACME is off unless an address is given")
        let acme = try config(["--http-port", "80", "--https-port", "443", "--acme-email", "ops@example.com",
                               "--acme-directory", "https://acme-staging-v02.api.letsencrypt.org/directory", "--acme-ca-file", "/etc/ca.pem"])
        XCTAssertEqual(acme.httpsEdgeServerOptions?.port, 443)
        XCTAssertEqual(acme.acmeEmail, "ops@example.com")
        XCTAssertEqual(acme.acmeDirectory, "https://acme-staging-v02.api.letsencrypt.org/directory")
        XCTAssertEqual(acme.acmeCAFile, "/etc/ca.pem")
        XCTAssertEqual(acme.acmeRetrySeconds, 60)
        XCTAssertEqual(try config(["--acme-retry-seconds", "2"]).acmeRetrySeconds, 2)
        XCTAssertEqual(try config(["--http-port", "80", "--https-port", "443"], env: ["SLIPWAY_ACME_EMAIL": "a@b.example"]).acmeDirectory,
                       "https://acme-v02.api.letsencrypt.org/directory")
        for args in [["--acme-email", "ops@example.com"], ["--http-port", "80", "--acme-email", "ops@example.com"],
                     ["--http-port", "80", "--https-port", "443", "--acme-email", "not an address"],
                     ["--acme-directory", "http://plain.example/dir"], ["--https-port", "70000"], ["--acme-retry-seconds", "0"]] {
            XCTAssertThrowsError(try CommandLineParser.parse(args, environment: [:]), "\(args)")
        }
    }
}
