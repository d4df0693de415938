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

        init(trusting chains: [CertificateChain], serverName: String?, maximumVersion: Int32? = nil, alpn: [String] = ["http/1.1"],
             verifying: Bool = true, fd: Int32) {
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
            SSL_CTX_set_verify(context, verifying ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
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
    private func handshake(serverName: String?, maximumVersion: Int32? = nil, alpn: [String] = ["http/1.1"], verifying: Bool = true)
        throws -> (Outcome, TLSSession, Client) {
        var pair: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair), 0)
        descriptors += pair
        for fd in pair { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        let session = try server.session(on: pair[0])
        let client = Client(trusting: trusted, serverName: serverName, maximumVersion: maximumVersion, alpn: alpn,
                            verifying: verifying, fd: pair[1])
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

    // MARK: TLS-ALPN-01

    /// The digest a challenge certificate carries: what the CA compares with its own.
    private let digest = [UInt8]((0..<32).map { UInt8($0 * 7 % 256) })

    private func installChallenge(for name: String) throws -> CertificateChain {
        let key = try PrivateKey.generateP256()
        let chain = try SelfSignedCertificate.make(names: [name], key: key, validSeconds: 3600, acmeIdentifier: digest)
        store.installChallenge(try ServerCertificate.challenge(chain: chain, key: key), for: name)
        trusted.append(chain)
        return chain
    }

    /// The critical id-pe-acmeIdentifier extension's value in the certificate the client got.
    private func acmeIdentifier(seenBy client: Client) -> (critical: Bool, value: [UInt8])? {
        guard let peer = SSL_get1_peer_certificate(client.ssl) else { return nil }
        defer { X509_free(peer) }
        let object = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1)
        defer { ASN1_OBJECT_free(object) }
        let index = X509_get_ext_by_OBJ(peer, object, -1)
        guard index >= 0, let found = X509_get_ext(peer, index), let data = X509_EXTENSION_get_data(found) else { return nil }
        let bytes = Array(UnsafeBufferPointer(start: ASN1_STRING_get0_data(data), count: Int(ASN1_STRING_length(data))))
        return (X509_EXTENSION_get_critical(found) == 1, bytes)
    }

    func testACAAskingForACMETLS1GetsTheChallengeCertificateAndNothingElse() throws {
        let challenge = try installChallenge(for: "a.test")
        // The CA checks the extension itself; OpenSSL's verification would refuse the unknown
        // critical extension, as it should for any other use of the certificate.
        let (outcome, session, client) = try handshake(serverName: "a.test", alpn: ["acme-tls/1"], verifying: false)
        XCTAssertEqual(outcome, .established)
        XCTAssertEqual(session.applicationProtocol, "acme-tls/1", "RFC 8737: the server must negotiate acme-tls/1")
        guard let peer = SSL_get1_peer_certificate(client.ssl) else { return XCTFail("no certificate") }
        defer { X509_free(peer) }
        XCTAssertEqual(X509_cmp(peer, challenge.leaf), 0, "the challenge's certificate, not the app's")
        let identifier = acmeIdentifier(seenBy: client)
        XCTAssertEqual(identifier?.critical, true)
        XCTAssertEqual(identifier?.value, [0x04, 0x20] + digest, "a DER OCTET STRING of the SHA-256 digest")
    }

    func testAClientAskingForHTTPNeverSeesTheChallengeCertificate() throws {
        let challenge = try installChallenge(for: "a.test")
        let (outcome, session, client) = try handshake(serverName: "a.test", alpn: ["http/1.1", "h2"])
        XCTAssertEqual(outcome, .established)
        XCTAssertEqual(session.applicationProtocol, "http/1.1")
        guard let peer = SSL_get1_peer_certificate(client.ssl) else { return XCTFail("no certificate") }
        defer { X509_free(peer) }
        XCTAssertNotEqual(X509_cmp(peer, challenge.leaf), 0)
        XCTAssertNil(acmeIdentifier(seenBy: client))
    }

    func testACMETLS1ForANameWithNoChallengeGetsNoneAndAnUnknownNameStillIsRefused() throws {
        _ = try installChallenge(for: "other.test")
        let (served, session, client) = try handshake(serverName: "a.test", alpn: ["acme-tls/1"])
        XCTAssertEqual(served, .established, "a.test's own certificate, with no protocol agreed")
        XCTAssertNil(session.applicationProtocol)
        XCTAssertNil(acmeIdentifier(seenBy: client))
        let (unknown, _, _) = try handshake(serverName: "unknown.test", alpn: ["acme-tls/1"])
        guard case .serverFailed(let reason) = unknown else { return XCTFail("\(unknown)") }
        XCTAssertTrue(reason.contains("unrecognized name"), reason)

        store.removeChallenge("other.test")
        let (removed, _, _) = try handshake(serverName: "other.test", alpn: ["acme-tls/1"])
        guard case .serverFailed = removed else { return XCTFail("a withdrawn challenge is no longer answered: \(removed)") }
    }

    func testTheClientHelloExtensionsAreReadWithEveryLengthChecked() {
        func protocols(_ bytes: [UInt8]) -> [String] { bytes.withUnsafeBufferPointer { ClientHello.protocols($0) } }
        func hostName(_ bytes: [UInt8]) -> String? { bytes.withUnsafeBufferPointer { ClientHello.hostName($0) } }
        XCTAssertEqual(protocols([0, 14, 2] + Array("h2".utf8) + [10] + Array("acme-tls/1".utf8)), ["h2", "acme-tls/1"])
        XCTAssertEqual(protocols([0, 15, 2] + Array("h2".utf8) + [10] + Array("acme-tls/1".utf8)), [], "list length says one more byte")
        XCTAssertEqual(protocols([0, 3, 5, 65, 66]), [], "a name longer than what is left")
        XCTAssertEqual(protocols([0, 1, 0]), [], "an empty name")
        XCTAssertEqual(protocols([0]), [])
        let name = Array("App.Test".utf8)
        XCTAssertEqual(hostName([0, UInt8(name.count + 3), 0, 0, UInt8(name.count)] + name), "app.test")
        XCTAssertNil(hostName([0, UInt8(name.count + 3), 0, 0, UInt8(name.count + 1)] + name), "a name longer than what is left")
        XCTAssertNil(hostName([0, 3, 0, 0, 0]), "an empty name")
        XCTAssertNil(hostName([0, 4, 1, 0, 1, 65]), "no host_name entry")
        XCTAssertNil(hostName([]))
    }
}
