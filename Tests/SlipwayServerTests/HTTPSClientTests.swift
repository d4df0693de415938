import Glibc
import SlipwayHTTP
import SlipwaySystem
import XCTest
@testable import SlipwayServer
@testable import SlipwayTLS

/// Slipway's outbound HTTPS client against a real TLS server (this server, with a certificate for
/// localhost): answers by length, chunked and large, and the refusals that protect it (an
/// untrusted chain, a certificate for another name, an answer past its limit, a bad URL).
final class HTTPSClientTests: XCTestCase {
    private struct Answering: RequestDispatcher {
        func dispose(of head: RequestHead, remoteAddress: String) -> Disposition {
            .buffer(bodyLimit: 1 << 20) { request in
                switch request.path {
                case "/echo":
                    return .text("\(request.method) \(request.headers["Host"] ?? "") \(String(decoding: request.body, as: UTF8.self))")
                case "/chunked":
                    return HTTPResponse(body: .stream { writer in
                        for piece in ["one ", "two ", "three"] { try writer.write(Array(piece.utf8)) }
                    })
                default:
                    return .text(String(repeating: "x", count: 2 << 20))
                }
            }
        }

        func errorResponse(_ error: any HTTPResponseError, path: String) -> HTTPResponse { .error(error, format: .text) }

        func respond(to request: HTTPRequest, deferred make: DeferredResponse.Maker) -> HTTPResponse {
            (try? make()) ?? .text("failed", status: 500)
        }
    }

    private var server: HTTPServer!
    private var trusted: CertificateChain!
    private var store: CertificateStore!

    override func setUpWithError() throws {
        let key = try PrivateKey.generateP256()
        trusted = try SelfSignedCertificate.make(names: ["localhost"], key: key, validSeconds: 3600)
        store = CertificateStore()
        store.install(try ServerCertificate(chain: trusted, key: key), for: "localhost")
        var options = ServerOptions()
        options.port = 0
        server = try HTTPServer(options: options, dispatcher: Answering(), tls: try TLSServerContext(store: store))
        let server = self.server!
        OSThread.detach(name: "test-accept") { server.run() }
    }

    override func tearDown() {
        server.shutdown()
    }

    private var base: String { "https://localhost:\(server.port)" }

    func testAnswersByLengthAndChunkedAreReadWhole() throws {
        let client = HTTPSClient(trust: .certificates([trusted]))
        let echoed = try client.send("POST", base + "/echo", headers: [("Content-Type", "application/jose+json")], body: Array("hello".utf8))
        XCTAssertEqual(echoed.status, 200)
        XCTAssertEqual(String(decoding: echoed.body, as: UTF8.self), "POST localhost:\(server.port) hello")
        let chunked = try client.send("GET", base + "/chunked")
        XCTAssertEqual(chunked.headers["Transfer-Encoding"], "chunked")
        XCTAssertEqual(String(decoding: chunked.body, as: UTF8.self), "one two three")
    }

    func testAnAnswerPastTheLimitIsRefused() throws {
        var client = HTTPSClient(trust: .certificates([trusted]))
        XCTAssertThrowsError(try client.send("GET", base + "/big")) { error in
            XCTAssertEqual((error as? TLSError)?.reason, "the answer is larger than 1048576 bytes")
        }
        client.maxResponseBytes = 4 << 20
        XCTAssertEqual(try client.send("GET", base + "/big").body.count, 2 << 20)
    }

    func testAChainItDoesNotTrustOrACertificateForAnotherNameIsRefused() throws {
        let stranger = try SelfSignedCertificate.make(names: ["localhost"], key: try PrivateKey.generateP256(), validSeconds: 60)
        XCTAssertThrowsError(try HTTPSClient(trust: .certificates([stranger])).send("GET", base + "/echo")) { error in
            XCTAssertTrue((error as? TLSError)?.reason.hasPrefix("certificate verify failed") == true, "\(error)")
        }
        // Trusted, but for another name: served for localhost here, and refused by the name check.
        let key = try PrivateKey.generateP256()
        let other = try SelfSignedCertificate.make(names: ["other.test"], key: key, validSeconds: 60)
        store.install(try ServerCertificate(chain: other, key: key), for: "localhost")
        XCTAssertThrowsError(try HTTPSClient(trust: .certificates([other])).send("GET", base + "/echo")) { error in
            XCTAssertEqual((error as? TLSError)?.reason, "certificate verify failed: hostname mismatch", "\(error)")
        }
    }

    func testOnlyHTTPSURLsWithAHostAreTaken() {
        for url in ["http://localhost/", "https://", "https://user@host/", "https://host:99999/", "https://ho st/"] {
            XCTAssertThrowsError(try HTTPSClient.parse(url), url)
        }
        XCTAssertEqual(try HTTPSClient.parse("https://acme.example:14000/dir").authority, "acme.example:14000")
        XCTAssertEqual(try HTTPSClient.parse("https://acme.example").path, "/")
    }
}
