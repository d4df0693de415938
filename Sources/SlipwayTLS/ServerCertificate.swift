import CTLS

/// A certificate chain with its key, ready to be served: its own OpenSSL context, which the
/// edge's handshake switches to once the client has named the host (`TLSServerContext`).
///
/// @unchecked Sendable: the context is complete before it is shared and never changed after;
/// OpenSSL allows one context to serve many connections on many threads.
public final class ServerCertificate: @unchecked Sendable {
    public let chain: CertificateChain
    let context: OpaquePointer

    /// Throws when the key is not the certificate's: a mismatched pair is refused here, where
    /// it is uploaded or issued, rather than found at the first client's handshake.
    /// Whether this is a TLS-ALPN-01 challenge's certificate, shown only to a client that asks
    /// for `acme-tls/1` (the CA's validation), never to one that asks for HTTP.
    public let isChallenge: Bool

    public convenience init(chain: CertificateChain, key: PrivateKey) throws(TLSError) {
        try self.init(chain: chain, key: key, challenge: false)
    }

    /// A TLS-ALPN-01 challenge's certificate: its context negotiates `acme-tls/1` only.
    public static func challenge(chain: CertificateChain, key: PrivateKey) throws(TLSError) -> ServerCertificate {
        try ServerCertificate(chain: chain, key: key, challenge: true)
    }

    private init(chain: CertificateChain, key: PrivateKey, challenge: Bool) throws(TLSError) {
        guard chain.matches(key) else {
            throw TLSError("installing a certificate", reason: "the private key does not match the certificate")
        }
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSError.fromQueue("SSL_CTX_new") }
        guard SSL_CTX_use_certificate(context, chain.leaf) == 1, SSL_CTX_use_PrivateKey(context, key.pointer) == 1 else {
            SSL_CTX_free(context)
            throw TLSError.fromQueue("installing a certificate")
        }
        for intermediate in chain.certificates.dropFirst() where slipway_ssl_ctx_add1_chain_cert(context, intermediate) != 1 {
            SSL_CTX_free(context)
            throw TLSError.fromQueue("installing a certificate's chain")
        }
        // ALPN is negotiated after the SNI callback has switched the session to this context,
        // and OpenSSL asks this context for it.
        if challenge {
            SSL_CTX_set_alpn_select_cb(context, selectACMEProtocol, nil)
            // Marks the context, for the SNI callback to leave the session on it.
            SSL_CTX_set_ex_data(context, 0, UnsafeMutableRawPointer(bitPattern: 1))
        } else {
            SSL_CTX_set_alpn_select_cb(context, selectProtocol, nil)
        }
        self.isChallenge = challenge
        self.chain = chain
        self.context = context
    }

    deinit { SSL_CTX_free(context) }
}
