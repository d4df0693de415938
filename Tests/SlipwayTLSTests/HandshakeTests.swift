import CTLS
import Glibc
import XCTest
@testable import SlipwayTLS

/// Real TLS handshakes between the edge's server context and an OpenSSL client, over a socket
/// pair, stepped in turn on one thread: the certificate chosen by SNI, `unrecognized_name` for
/// a name with none, TLS 1.1 refused, ALPN, and bytes both ways.
final class HandshakeTests: XCTestCase {
    private var store: CertificateStore!
    private var server: TLSServerContext!
    private var trusted: [CertificateChain] = []
    private var descriptors: [Int32] = []

    override func setUpWithError() throws {
        store = CertificateStore()
        for names in [["a.test"], ["*.b.test"]] {
            let key = try PrivateKey.generateP256()
            let chain = try SelfSignedCertificate.make(names: names, key: key, validSeconds: 3600)
            store.install(try ServerCertificate(chain: chain, key: key), for: names[0])
            trusted.append(chain)
        }
        server = try TLSServerContext(store: store)
    }

    override func tearDown() {
        descriptors.forEach { close($0) }
    }

    /// An OpenSSL client that trusts the test certificates and checks the host name.
    private final class Client {
        let context: OpaquePointer
        let ssl: OpaquePointer

        init(trusting chains: [CertificateChain], serverName: String?, maximumVersion: Int32? = nil, alpn: [String] = ["http/1.1"], fd: Int32) {
            context = SSL_CTX_new(TLS_client_method())!
            if let maximumVersion {
                // The oldest versions are off at OpenSSL's default security level: a client of
                // them needs level 0 to offer them at all.
                SSL_CTX_set_security_level(context, 0)
                _ = slipway_ssl_ctx_set_min_proto(context, TLS1_VERSION)
                _ = slipway_ssl_ctx_set_max_proto(context, maximumVersion)
            }
            let roots = SSL_CTX_get_cert_store(context)
            for chain in chains { X509_STORE_add_cert(roots, chain.leaf) }
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            ssl = SSL_new(context)!
            if let serverName {
                _ = slipway_ssl_set_host_name(ssl, serverName)
                SSL_set1_host(ssl, serverName)
            }
            var protocols: [UInt8] = []
            for name in alpn { protocols += [UInt8(name.utf8.count)] + Array(name.utf8) }
            if !protocols.isEmpty { SSL_set_alpn_protos(ssl, protocols, UInt32(protocols.count)) }
            SSL_set_fd(ssl, fd)
            SSL_set_connect_state(ssl)
        }

        deinit {
            SSL_free(ssl)
            SSL_CTX_free(context)
        }
    }

    private enum Outcome: Equatable {
        case established
        case clientFailed(String)
        case serverFailed(String)
    }

    /// Steps both ends until the handshake ends (at most 50 rounds).
    private func handshake(serverName: String?, maximumVersion: Int32? = nil, alpn: [String] = ["http/1.1"])
        throws -> (Outcome, TLSSession, Client) {
        var pair: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair), 0)
        descriptors += pair
        for fd in pair { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        let session = try server.session(on: pair[0])
        let client = Client(trusting: trusted, serverName: serverName, maximumVersion: maximumVersion, alpn: alpn, fd: pair[1])
        var serverDone = false
        var clientDone = false
        for _ in 0..<50 {
            if !clientDone {
                ERR_clear_error()
                let result = SSL_do_handshake(client.ssl)
                if result == 1 {
                    clientDone = true
                } else {
                    let code = SSL_get_error(client.ssl, result)
                    if code != SSL_ERROR_WANT_READ && code != SSL_ERROR_WANT_WRITE {
                        return (.clientFailed(TLSError.fromQueue("client").reason), session, client)
                    }
                }
            }
            if !serverDone {
                do {
                    serverDone = try session.handshake() == .done
                } catch {
                    // The server's alert is on its way to the client: let the client read it.
                    ERR_clear_error()
                    let result = SSL_do_handshake(client.ssl)
                    let clientReason = result == 1 ? "" : TLSError.fromQueue("client").reason
                    return (.serverFailed("\(error.reason) | client: \(clientReason)"), session, client)
                }
            }
            if serverDone && clientDone { return (.established, session, client) }
        }
        return (.clientFailed("no end after 50 rounds"), session, client)
    }

    func testTheCertificateIsChosenByTheNameTheClientAsksFor() throws {
        let (outcome, session, client) = try handshake(serverName: "a.test")
        XCTAssertEqual(outcome, .established)
        XCTAssertEqual(SSL_get_verify_result(client.ssl), Int(X509_V_OK), "the client verified a.test's certificate")
        XCTAssertEqual(session.serverName, "a.test")
        XCTAssertEqual(session.applicationProtocol, "http/1.1")
        XCTAssertEqual(session.protocolVersion, "TLSv1.3")

        let (wildcard, _, wildcardClient) = try handshake(serverName: "api.b.test")
        XCTAssertEqual(wildcard, .established, "*.b.test covers api.b.test")
        let peer = SSL_get1_peer_certificate(wildcardClient.ssl)
        defer { X509_free(peer) }
        XCTAssertEqual(X509_cmp(peer, trusted[1].leaf), 0)
    }

    func testANameWithNoCertificateEndsTheHandshakeWithUnrecognizedName() throws {
        for name in ["unknown.test", "b.test", nil] as [String?] {
            let (outcome, _, _) = try handshake(serverName: name)
            guard case .serverFailed(let reason) = outcome else { return XCTFail("\(name ?? "no name"): \(outcome)") }
            XCTAssertTrue(reason.contains("unrecognized name"), "\(name ?? "no name"): \(reason)")
        }
    }

    func testTLS11AndOlderAreRefused() throws {
        let (outcome, _, _) = try handshake(serverName: "a.test", maximumVersion: TLS1_1_VERSION)
        guard case .serverFailed(let reason) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertTrue(reason.contains("unsupported protocol"), reason)
        let (twelve, session, _) = try handshake(serverName: "a.test", maximumVersion: TLS1_2_VERSION)
        XCTAssertEqual(twelve, .established)
        XCTAssertEqual(session.protocolVersion, "TLSv1.2")
    }

    func testAClientThatOffersNoHTTP11GoesOnWithoutALPN() throws {
        let (outcome, session, _) = try handshake(serverName: "a.test", alpn: ["h2"])
        XCTAssertEqual(outcome, .established)
        XCTAssertNil(session.applicationProtocol)
    }

    func testBytesGoBothWaysAndACloseIsSeen() throws {
        let (outcome, session, client) = try handshake(serverName: "a.test")
        XCTAssertEqual(outcome, .established)
        let request = Array("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n".utf8)
        XCTAssertEqual(SSL_write(client.ssl, request, Int32(request.count)), Int32(request.count))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
        defer { buffer.deallocate() }
        guard case .bytes(let n) = try session.read(into: buffer) else { return XCTFail("nothing read") }
        XCTAssertEqual(Array(buffer[0..<n]), request)
        XCTAssertEqual(try session.read(into: buffer), .waiting(.read), "nothing more yet")
        let answer = Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)
        XCTAssertEqual(try answer.withUnsafeBytes { try session.write($0) }, .wrote(answer.count))
        var received = [UInt8](repeating: 0, count: 256)
        XCTAssertEqual(SSL_read(client.ssl, &received, 256), Int32(answer.count))
        SSL_shutdown(client.ssl)
        XCTAssertEqual(try session.read(into: buffer), .closed)
    }
}
