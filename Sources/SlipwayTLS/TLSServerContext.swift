import CTLS

/// The HTTPS edge's TLS policy, and the handshake's choice of certificate by the name the client
/// asks for (SNI).
///
/// - TLS 1.2 and 1.3 only; for 1.2, only ECDHE key exchange with AEAD ciphers (AES-GCM,
///   ChaCha20-Poly1305), as Mozilla's "intermediate" profile has it; 1.3's suites are all AEAD.
///   No compression, no renegotiation.
/// - The certificate is the one `store` has for the client's server name. A name it has none
///   for, or no name at all, ends the handshake with an `unrecognized_name` alert: a client is
///   never shown another app's certificate.
/// - ALPN: `http/1.1` when the client offers it; a client that offers only other protocols goes
///   on without ALPN, as nginx lets it.
///
/// @unchecked Sendable: the context is set up in `init` and never changed after; OpenSSL allows
/// one context to start sessions on many threads. The store is what changes, under its own lock.
public final class TLSServerContext: @unchecked Sendable {
    public let store: CertificateStore
    let context: OpaquePointer

    static let tls12Ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

    public init(store: CertificateStore) throws(TLSError) {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSError.fromQueue("SSL_CTX_new") }
        self.context = context
        self.store = store
        SSL_CTX_set_options(context, slipway_ssl_server_options())
        // Partial writes and a moving buffer suit non-blocking sockets; released buffers keep an
        // idle connection's memory small.
        _ = slipway_ssl_ctx_set_mode(context, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS))
        guard slipway_ssl_ctx_set_min_proto(context, TLS1_2_VERSION) == 1,
              SSL_CTX_set_cipher_list(context, Self.tls12Ciphers) == 1,
              slipway_ssl_ctx_set1_groups_list(context, "X25519:P-256:P-384") == 1
        else { throw TLSError.fromQueue("setting up TLS") }
        // Resumption by stateless tickets only (RFC 8446 section 4.6.1): OpenSSL's in-memory
        // session cache would hold every new session under a lock shared by all workers, and
        // nothing would look it up. One ticket per handshake, not OpenSSL's two: a browser
        // resumes a connection with one, as Go's server sends.
        _ = slipway_ssl_ctx_set_session_cache_mode(context, Int(SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL))
        _ = SSL_CTX_set_num_tickets(context, 1)
        slipway_ssl_ctx_set_servername_callback(context, chooseCertificate, Unmanaged.passUnretained(store).toOpaque())
        SSL_CTX_set_alpn_select_cb(context, selectProtocol, nil)
        SSL_CTX_set_client_hello_cb(context, answerACMEChallenge, Unmanaged.passUnretained(store).toOpaque())
    }

    deinit { SSL_CTX_free(context) }

    /// A server session on `fd` (a connected, non-blocking socket), its handshake not begun.
    public func session(on fd: Int32) throws(TLSError) -> TLSSession {
        guard let ssl = SSL_new(context) else { throw TLSError.fromQueue("SSL_new") }
        guard SSL_set_fd(ssl, fd) == 1 else {
            SSL_free(ssl)
            throw TLSError.fromQueue("SSL_set_fd")
        }
        SSL_set_accept_state(ssl)
        return TLSSession(ssl: ssl)
    }
}

/// The SNI callback: the store's certificate for the name, or a fatal `unrecognized_name`.
private func chooseCertificate(_ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?, _ argument: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let argument else { return SSL_TLSEXT_ERR_ALERT_FATAL }
    // The client hello callback switched the session to a TLS-ALPN-01 challenge's context.
    if SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), 0) != nil { return SSL_TLSEXT_ERR_OK }
    let store = Unmanaged<CertificateStore>.fromOpaque(argument).takeUnretainedValue()
    guard let name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name),
          let certificate = store.certificate(for: String(cString: name)),
          SSL_set_SSL_CTX(ssl, certificate.context) != nil
    else {
        alert?.pointee = SSL_AD_UNRECOGNIZED_NAME
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }
    return SSL_TLSEXT_ERR_OK
}

/// The client hello callback, before SNI and ALPN are handled: a client that offers `acme-tls/1`
/// (an ACME CA validating TLS-ALPN-01, RFC 8737) for a name with a challenge in progress is
/// switched to the challenge's context; every other client goes on to the SNI callback. This is
/// the one place that sees both the name and the protocols before the certificate is chosen.
private func answerACMEChallenge(_ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?, _ argument: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let argument else { return SSL_CLIENT_HELLO_SUCCESS }
    var alpn: UnsafePointer<UInt8>?
    var alpnLength = 0
    guard SSL_client_hello_get0_ext(ssl, UInt32(TLSEXT_TYPE_application_layer_protocol_negotiation), &alpn, &alpnLength) == 1,
          let alpn, ClientHello.protocols(UnsafeBufferPointer(start: alpn, count: alpnLength)).contains("acme-tls/1")
    else { return SSL_CLIENT_HELLO_SUCCESS }
    var sni: UnsafePointer<UInt8>?
    var sniLength = 0
    guard SSL_client_hello_get0_ext(ssl, UInt32(TLSEXT_TYPE_server_name), &sni, &sniLength) == 1, let sni,
          let name = ClientHello.hostName(UnsafeBufferPointer(start: sni, count: sniLength))
    else { return SSL_CLIENT_HELLO_SUCCESS }
    let store = Unmanaged<CertificateStore>.fromOpaque(argument).takeUnretainedValue()
    if let challenge = store.challengeCertificate(for: name) { _ = SSL_set_SSL_CTX(ssl, challenge.context) }
    return SSL_CLIENT_HELLO_SUCCESS
}

/// The ALPN callback of a challenge's context: `acme-tls/1` or nothing.
func selectACMEProtocol(_ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLength: UnsafeMutablePointer<UInt8>?,
                        _ offered: UnsafePointer<UInt8>?, _ offeredLength: UInt32, _ argument: UnsafeMutableRawPointer?) -> Int32 {
    pickProtocol("acme-tls/1", out, outLength, offered, offeredLength)
}

/// The ALPN callback: `http/1.1` from the client's list, pointed at in that list (which lives
/// for the handshake), or no protocol at all. Set on the certificates' contexts too: OpenSSL
/// reads it from the context the SNI callback switched the session to.
func selectProtocol(_ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLength: UnsafeMutablePointer<UInt8>?,
                            _ offered: UnsafePointer<UInt8>?, _ offeredLength: UInt32, _ argument: UnsafeMutableRawPointer?) -> Int32 {
    pickProtocol("http/1.1", out, outLength, offered, offeredLength)
}

/// Points `out` at `protocolName` in the client's list when it is there.
private func pickProtocol(_ protocolName: String, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLength: UnsafeMutablePointer<UInt8>?,
                    _ offered: UnsafePointer<UInt8>?, _ offeredLength: UInt32) -> Int32 {
    guard let offered, let out, let outLength else { return SSL_TLSEXT_ERR_NOACK }
    let list = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
    let wanted = Array(protocolName.utf8)
    var index = 0
    while index < list.count {
        let length = Int(list[index])
        let start = index + 1
        guard start + length <= list.count else { break }
        if length == wanted.count && list[start..<start + length].elementsEqual(wanted) {
            out.pointee = offered + start
            outLength.pointee = UInt8(length)
            return SSL_TLSEXT_ERR_OK
        }
        index = start + length
    }
    return SSL_TLSEXT_ERR_NOACK
}
