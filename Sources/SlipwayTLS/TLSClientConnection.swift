import CSystem
import CTLS
import Glibc
import SlipwaySystem

/// One outbound TLS connection, for Slipway's own requests (the ACME CA, notification targets):
/// the host's addresses tried in turn, TLS 1.2 or 1.3, the chain verified against `trust` and
/// the certificate checked for the host's name. Blocking, every wait bounded by one deadline, so
/// run it on a thread of its own, never on the concurrency pool or an HTTP worker.
public final class TLSClientConnection: OutboundConnection {
    private let fd: Int32
    private let context: OpaquePointer
    private let ssl: OpaquePointer
    private let deadline: Int

    /// Connects and completes the handshake within `timeoutMilliseconds`.
    public init(host: String, port: Int, trust: TLSTrust, timeoutMilliseconds: Int) throws(TLSError) {
        deadline = monotonicMilliseconds() + timeoutMilliseconds
        fd = try Self.connect(host: host, port: port, deadline: deadline)
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            Glibc.close(fd)
            throw TLSError.fromQueue("SSL_CTX_new")
        }
        self.context = context
        guard let ssl = SSL_new(context) else {
            SSL_CTX_free(context)
            Glibc.close(fd)
            throw TLSError.fromQueue("SSL_new")
        }
        self.ssl = ssl
        // From here on, deinit frees what is made.
        _ = slipway_ssl_ctx_set_min_proto(context, TLS1_2_VERSION)
        SSL_CTX_set_options(context, slipway_ssl_client_options())
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        switch trust {
        case .system:
            guard SSL_CTX_set_default_verify_paths(context) == 1 else { throw TLSError.fromQueue("loading the system's CA bundle") }
        case .caFile(let path):
            guard SSL_CTX_load_verify_locations(context, path, nil) == 1 else {
                throw TLSError.fromQueue("loading the CA file \(path)")
            }
        case .certificates(let chains):
            let store = SSL_CTX_get_cert_store(context)
            for chain in chains { X509_STORE_add_cert(store, chain.leaf) }
        }
        SSL_set_verify(ssl, SSL_VERIFY_PEER, nil)
        _ = slipway_ssl_set_host_name(ssl, host)
        // The certificate must name the host: without this, any certificate of a trusted CA would do.
        guard SSL_set1_host(ssl, host) == 1, SSL_set_fd(ssl, fd) == 1 else { throw TLSError.fromQueue("setting up TLS to \(host)") }
        SSL_set_connect_state(ssl)
        try step("TLS handshake with \(host)") { SSL_do_handshake(ssl) }
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(context)
        Glibc.close(fd)
    }

    public func write(_ bytes: [UInt8]) throws(TLSError) {
        var offset = 0
        while offset < bytes.count {
            var written = 0
            try step("TLS write") {
                bytes[offset...].withUnsafeBytes { SSL_write_ex(ssl, $0.baseAddress, $0.count, &written) == 1 ? 1 : 0 }
            }
            offset += written
        }
    }

    /// Reads what has come, at most `buffer.count` bytes; 0 once the server has closed.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(TLSError) -> Int {
        var count = 0
        while true {
            ERR_clear_error()
            if SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count) == 1 { return count }
            let code = SSL_get_error(ssl, 0)
            switch code {
            case SSL_ERROR_ZERO_RETURN:
                return 0
            case SSL_ERROR_SYSCALL:
                // A close without close_notify: the answer ends there (it carries its own length).
                ERR_clear_error()
                return 0
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                try wait(code == SSL_ERROR_WANT_READ ? Int16(POLLIN) : Int16(POLLOUT), "TLS read")
            default:
                throw TLSError.fromQueue("TLS read")
            }
        }
    }

    /// Runs an OpenSSL call until it succeeds (1), waiting for the socket as it asks.
    private func step(_ operation: String, _ call: () -> Int32) throws(TLSError) {
        while true {
            ERR_clear_error()
            let result = call()
            if result == 1 { return }
            let code = SSL_get_error(ssl, result)
            switch code {
            case SSL_ERROR_WANT_READ: try wait(Int16(POLLIN), operation)
            case SSL_ERROR_WANT_WRITE: try wait(Int16(POLLOUT), operation)
            default:
                let verify = SSL_get_verify_result(ssl)
                if verify != X509_V_OK, let text = X509_verify_cert_error_string(verify) {
                    ERR_clear_error()
                    throw TLSError(operation, reason: "certificate verify failed: " + String(cString: text))
                }
                throw TLSError.fromQueue(operation, fallback: "the connection closed")
            }
        }
    }

    private func wait(_ events: Int16, _ operation: String) throws(TLSError) {
        let left = deadline - monotonicMilliseconds()
        guard left > 0, (try? Socket.wait(fd, events: events, timeoutMilliseconds: left)) == .ready else {
            throw TLSError(operation, reason: "timed out")
        }
    }

    /// A non-blocking socket connected to one of the host's addresses, tried in the order the
    /// resolver gives them.
    static func connect(host: String, port: Int, deadline: Int) throws(TLSError) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let list else {
            throw TLSError("resolving \(host)", reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }
        var lastError = ECONNREFUSED
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let address = entry {
            entry = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { lastError = errno; continue }
            if Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return fd }
            if errno == EINPROGRESS {
                let left = deadline - monotonicMilliseconds()
                if left > 0, (try? Socket.wait(fd, events: Int16(POLLOUT), timeoutMilliseconds: left)) == .ready {
                    let code = Socket.connectError(fd)
                    if code == 0 { return fd }
                    lastError = code
                } else {
                    lastError = ETIMEDOUT
                }
            } else {
                lastError = errno
            }
            Glibc.close(fd)
        }
        throw TLSError("connecting to \(host):\(port)", reason: String(cString: strerror(lastError)))
    }
}
