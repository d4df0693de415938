import CTLS
import Glibc
import SlipwayHTTP
import SlipwaySystem
@testable import SlipwayTLS
import XCTest
@testable import SlipwayServer

/// The server with TLS (the HTTPS edge's transport), against an OpenSSL client over loopback:
/// the handshake done by the workers, kept-alive and pipelined requests, bodies both buffered and
/// streamed through an `Exchange`, plain HTTP on the TLS port, and a client that never speaks.
final class TLSServerTests: XCTestCase {
    /// `/sum` answers with the body's length and byte sum, buffered; `/stream` the same through an
    /// exchange; anything else "ok".
    private struct Summing: RequestDispatcher {
        func dispose(of head: RequestHead, remoteAddress: String) -> Disposition {
            switch head.path {
            case "/stream":
                return .takeOver { exchange in
                    exchange.bodyLimit = 1 << 24
                    var count = 0
                    var sum: UInt64 = 0
                    do {
                        while let piece = try exchange.nextBodyPiece() {
                            count += piece.count
                            for byte in piece { sum &+= UInt64(byte) }
                        }
                    } catch {
                        return exchange.abandon()
                    }
                    return exchange.respond(.text("\(count) \(sum)\n"))
                }
            case "/sum":
                return .buffer(bodyLimit: 1 << 24) { request in
                    .text("\(request.body.count) \(request.body.reduce(UInt64(0)) { $0 &+ UInt64($1) })\n")
                }
            default:
                return .buffer(bodyLimit: 0) { _ in .text("ok\n") }
            }
        }

        func errorResponse(_ error: any HTTPResponseError, path: String) -> HTTPResponse { .error(error, format: .text) }

        func respond(to request: HTTPRequest, deferred make: DeferredResponse.Maker) -> HTTPResponse {
            (try? make()) ?? .text("failed", status: 500)
        }
    }

    private var server: HTTPServer!
    private var certificate: CertificateChain!
    private var descriptors: [Int32] = []

    override func setUpWithError() throws {
        let key = try PrivateKey.generateP256()
        certificate = try SelfSignedCertificate.make(names: ["a.test"], key: key, validSeconds: 3600)
        let store = CertificateStore()
        store.install(try ServerCertificate(chain: certificate, key: key), for: "a.test")
        var options = ServerOptions()
        options.port = 0
        options.headerTimeoutMilliseconds = 300
        server = try HTTPServer(options: options, dispatcher: Summing(), tls: try TLSServerContext(store: store))
        let server = self.server!
        OSThread.detach(name: "test-accept") { server.run() }
    }

    override func tearDown() {
        server.shutdown()
        descriptors.forEach { close($0) }
    }

    /// A blocking loopback socket with a 5 s receive timeout, so no read here hangs.
    private func connect() throws -> Int32 {
        let fd = try Socket.connect(ipv4: "127.0.0.1", port: server.port, timeoutMilliseconds: 2000)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        descriptors.append(fd)
        return fd
    }

    /// An OpenSSL client on a connected socket, its handshake done, trusting the test certificate.
    private final class Client {
        let context: OpaquePointer
        let ssl: OpaquePointer

        init(fd: Int32, trusting chain: CertificateChain, serverName: String) throws {
            context = SSL_CTX_new(TLS_client_method())!
            X509_STORE_add_cert(SSL_CTX_get_cert_store(context), chain.leaf)
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            ssl = SSL_new(context)!
            _ = slipway_ssl_set_host_name(ssl, serverName)
            SSL_set1_host(ssl, serverName)
            SSL_set_fd(ssl, fd)
            guard SSL_connect(ssl) == 1 else { throw TLSError.fromQueue("client handshake") }
        }

        deinit {
            SSL_free(ssl)
            SSL_CTX_free(context)
        }

        func send(_ text: String) { send(Array(text.utf8)) }

        func send(_ bytes: [UInt8]) {
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32(min($0.count, 1 << 20))) }
                guard n > 0 else { return }
                offset += Int(n)
            }
        }

        /// Answers until `marker` has come `count` times, the server closes, or a read times out.
        func read(until marker: String, count: Int = 1) -> String {
            var received = [UInt8]()
            var chunk = [UInt8](repeating: 0, count: 16_384)
            while String(decoding: received, as: UTF8.self).components(separatedBy: marker).count <= count {
                let n = SSL_read(ssl, &chunk, Int32(chunk.count))
                if n <= 0 { break }
                received += chunk[0..<Int(n)]
            }
            return String(decoding: received, as: UTF8.self)
        }
    }

    func testKeptAliveAndPipelinedRequestsAreServedInOrderOverTLS() throws {
        let client = try Client(fd: connect(), trusting: certificate, serverName: "a.test")
        client.send("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        XCTAssertTrue(client.read(until: "ok\n").hasPrefix("HTTP/1.1 200 OK\r\n"))
        client.send("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        XCTAssertTrue(client.read(until: "ok\n").hasPrefix("HTTP/1.1 200 OK\r\n"), "kept alive")
        // Three in one write: the TLS layer hands them over together, and none waits on the socket.
        client.send("POST /sum HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabc"
                    + "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"
                    + "POST /stream HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nde\r\n0\r\n\r\n")
        let answers = client.read(until: "HTTP/1.1 200", count: 3) + client.read(until: "\n", count: 1)
        let bodies = answers.components(separatedBy: "\r\n\r\n").dropFirst().map { $0.prefix { $0 != "H" } }
        XCTAssertEqual(bodies.map(String.init), ["3 294\n", "ok\n", "2 201\n"], answers)
    }

    func testAMegabyteBodyIsReadWholeAndStreamedOverTLS() throws {
        let body = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let expected = "\(body.count) \(body.reduce(UInt64(0)) { $0 &+ UInt64($1) })\n"
        let client = try Client(fd: connect(), trusting: certificate, serverName: "a.test")
        for path in ["/sum", "/stream"] {
            client.send("POST \(path) HTTP/1.1\r\nHost: a.test\r\nContent-Length: \(body.count)\r\n\r\n")
            client.send(body)
            XCTAssertTrue(client.read(until: expected).hasSuffix(expected), path)
        }
    }

    func testPlainHTTPOnTheTLSPortGetsNoHTTPAnswer() throws {
        let fd = try connect()
        _ = Array("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n".utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        var received = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            received += chunk[0..<n]
        }
        XCTAssertFalse(String(decoding: received, as: UTF8.self).contains("HTTP/1.1"))
        XCTAssertTrue(received.isEmpty || received[0] == 0x15, "nothing, or a TLS alert record: \(received.prefix(8))")
    }

    func testAClientThatNeverStartsItsHandshakeIsClosedAfterTheHeaderTimeout() throws {
        let fd = try connect()
        var byte: UInt8 = 0
        // The server closes it (0) within the 5 s receive timeout; 300 ms is the header timeout.
        XCTAssertEqual(recv(fd, &byte, 1, 0), 0)
        let deadline = monotonicMilliseconds() + 5000
        while server.connectionCount > 0 && monotonicMilliseconds() < deadline { usleep(5_000) }
        XCTAssertEqual(server.connectionCount, 0)
    }

    /// A client that starts a handshake and never reads its answer (a chain too big for the socket
    /// buffers) holds no worker: the connection waits parked for writability and is closed at
    /// the header timeout (300 ms), not after a worker waited out the write timeout (30 s).
    func testAClientThatDoesNotReadTheHandshakeHoldsNoWorkerAndIsClosedAtTheHeaderTimeout() throws {
        let key = try PrivateKey.generateP256()
        let leaf = try SelfSignedCertificate.make(names: ["big.test"], key: key, validSeconds: 3600)
        let filler = try SelfSignedCertificate.make(names: ["filler.test"], key: try PrivateKey.generateP256(), validSeconds: 3600)
        // About 6 MB of "intermediates" (more than loopback's send buffer grows to), each a
        // reference the chain gives back when freed.
        let copies = (0..<15_000).map { _ in X509_up_ref(filler.leaf) == 1 ? filler.leaf : nil }.compactMap { $0 }
        _ = X509_up_ref(leaf.leaf)
        let chain = CertificateChain(certificates: [leaf.leaf] + copies)
        let store = CertificateStore()
        store.install(try ServerCertificate(chain: chain, key: key), for: "big.test")
        var options = ServerOptions()
        options.port = 0
        options.minimumWorkers = 1
        options.headerTimeoutMilliseconds = 300
        let big = try HTTPServer(options: options, dispatcher: Summing(), tls: try TLSServerContext(store: store))
        OSThread.detach(name: "test-accept") { big.run() }
        defer { big.shutdown() }

        let fd = try Socket.connect(ipv4: "127.0.0.1", port: big.port, timeoutMilliseconds: 2000)
        descriptors.append(fd)
        var small: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        let context = SSL_CTX_new(TLS_client_method())
        defer { SSL_CTX_free(context) }
        let client = SSL_new(context)
        defer { SSL_free(client) }
        _ = slipway_ssl_set_host_name(client, "big.test")
        SSL_set_fd(client, fd)
        SSL_set_connect_state(client)
        // Sends the ClientHello; the answer is never read.
        XCTAssertNotEqual(SSL_do_handshake(client), 1)

        let sawIt = monotonicMilliseconds() + 2000
        while big.connectionCount == 0 && monotonicMilliseconds() < sawIt { usleep(2_000) }
        XCTAssertEqual(big.connectionCount, 1, "the server took the connection")
        let deadline = monotonicMilliseconds() + 5000
        while big.connectionCount > 0 && monotonicMilliseconds() < deadline { usleep(5_000) }
        XCTAssertEqual(big.connectionCount, 0, "closed at the header timeout while the handshake could not be written")
    }
}
