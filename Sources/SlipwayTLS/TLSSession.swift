import CTLS
import Glibc

/// One TLS connection over a non-blocking socket (an OpenSSL SSL object). Every call returns at
/// once: when OpenSSL needs the socket to be readable or writable first, it says which, and the
/// caller waits for that (in its epoll set) and calls again.
///
/// Used by one thread at a time, as the connection that owns it is.
public final class TLSSession {
    let ssl: OpaquePointer

    /// What a call needs before it can go on.
    public enum Want: Equatable, Sendable {
        case read
        case write
    }

    public enum Progress: Equatable, Sendable {
        case done
        case waiting(Want)
    }

    public enum ReadResult: Equatable, Sendable {
        case bytes(Int)
        case waiting(Want)
        /// The peer closed the TLS session (close_notify) or the connection.
        case closed
    }

    public enum WriteResult: Equatable, Sendable {
        case wrote(Int)
        case waiting(Want)
    }

    init(ssl: OpaquePointer) {
        self.ssl = ssl
    }

    deinit { SSL_free(ssl) }

    /// Takes the handshake as far as the socket allows.
    public func handshake() throws(TLSError) -> Progress {
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 { return .done }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ: return .waiting(.read)
        case SSL_ERROR_WANT_WRITE: return .waiting(.write)
        case SSL_ERROR_SYSCALL, SSL_ERROR_ZERO_RETURN:
            let code = errno
            ERR_clear_error()
            throw TLSError("TLS handshake", reason: code == 0 ? "the client closed the connection" : String(cString: strerror(code)))
        default:
            throw TLSError.fromQueue("TLS handshake")
        }
    }

    /// Reads decrypted bytes into `buffer`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(TLSError) -> ReadResult {
        ERR_clear_error()
        var count = 0
        if SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count) == 1 { return .bytes(count) }
        switch SSL_get_error(ssl, 0) {
        case SSL_ERROR_WANT_READ: return .waiting(.read)
        case SSL_ERROR_WANT_WRITE: return .waiting(.write)
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL:
            // An end of the connection without close_notify: most HTTP clients end so.
            ERR_clear_error()
            return .closed
        default:
            throw TLSError.fromQueue("TLS read")
        }
    }

    /// Encrypts and sends what it can of `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(TLSError) -> WriteResult {
        guard bytes.count > 0 else { return .wrote(0) }
        ERR_clear_error()
        var count = 0
        if SSL_write_ex(ssl, bytes.baseAddress, bytes.count, &count) == 1 { return .wrote(count) }
        switch SSL_get_error(ssl, 0) {
        case SSL_ERROR_WANT_READ: return .waiting(.read)
        case SSL_ERROR_WANT_WRITE: return .waiting(.write)
        case SSL_ERROR_SYSCALL:
            let code = errno
            ERR_clear_error()
            throw TLSError("TLS write", reason: code == 0 ? "the connection closed" : String(cString: strerror(code)))
        default:
            throw TLSError.fromQueue("TLS write")
        }
    }

    /// Sends close_notify, once, without waiting for the peer's.
    public func shutdown() {
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// Whether OpenSSL holds bytes already read from the socket that no read has returned yet.
    public var hasBufferedInput: Bool { SSL_has_pending(ssl) == 1 }

    /// The name the client asked for (SNI), lowercased.
    public var serverName: String? {
        SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0).lowercased() }
    }

    /// The protocol agreed by ALPN, if any.
    public var applicationProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// "TLSv1.3", "TLSv1.2".
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }
}
