#ifndef SLIPWAY_CTLS_SHIM_H
#define SLIPWAY_CTLS_SHIM_H
// OpenSSL's libssl (TLS) and the X.509 and PEM parts of libcrypto it needs. Many of OpenSSL's
// calls are macros over SSL_CTX_ctrl and friends, which Swift cannot import; the static inline
// functions below give them names Swift can call. Nothing else lives here.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/// The server's options: no compression (CRIME), no renegotiation, the server's cipher order,
/// and a peer's close without close_notify read as an end (HTTP's own framing says whether the
/// message was whole), as most HTTP clients close.
static inline uint64_t slipway_ssl_server_options(void) {
    return SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF;
}

/// The client's options: no compression, no renegotiation, and an end without close_notify read
/// as an end (the answer's length or chunks say whether it was cut short).
static inline uint64_t slipway_ssl_client_options(void) {
    return SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF;
}

static inline int slipway_ssl_ctx_set_min_proto(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline int slipway_ssl_ctx_set_max_proto(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}

static inline long slipway_ssl_ctx_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

static inline long slipway_ssl_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}

static inline int slipway_ssl_ctx_set1_groups_list(SSL_CTX *ctx, const char *list) {
    return (int)SSL_CTX_set1_groups_list(ctx, list);
}

static inline int slipway_ssl_ctx_add1_chain_cert(SSL_CTX *ctx, X509 *cert) {
    return (int)SSL_CTX_add1_chain_cert(ctx, cert);
}

typedef int (*slipway_servername_callback)(SSL *ssl, int *alert, void *arg);

static inline void slipway_ssl_ctx_set_servername_callback(SSL_CTX *ctx, slipway_servername_callback callback, void *arg) {
    SSL_CTX_set_tlsext_servername_callback(ctx, callback);
    SSL_CTX_set_tlsext_servername_arg(ctx, arg);
}

static inline int slipway_ssl_set_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

/// A new ECDSA key on P-256 (EVP_EC_gen is a variadic macro).
static inline EVP_PKEY *slipway_ec_p256_generate(void) {
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/// The DNS names of a certificate's subjectAltName extension, one at a time: the count, then
/// each name's bytes (NULL for an entry that is not a DNS name).
static inline int slipway_x509_dns_name_count(X509 *cert, GENERAL_NAMES **names) {
    *names = (GENERAL_NAMES *)X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    return *names ? sk_GENERAL_NAME_num(*names) : 0;
}

static inline const unsigned char *slipway_x509_dns_name_at(GENERAL_NAMES *names, int index, int *length) {
    const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, index);
    if (name == NULL || name->type != GEN_DNS) return NULL;
    *length = ASN1_STRING_length(name->d.dNSName);
    return ASN1_STRING_get0_data(name->d.dNSName);
}

static inline void slipway_general_names_free(GENERAL_NAMES *names) {
    GENERAL_NAMES_free(names);
}

/// A certificate request's extensions (a STACK_OF macro in C): the subjectAltName given, added
/// to `request`.
static inline int slipway_x509_req_add_extension(X509_REQ *request, X509_EXTENSION *extension) {
    STACK_OF(X509_EXTENSION) *extensions = sk_X509_EXTENSION_new_null();
    if (extensions == NULL) return 0;
    if (sk_X509_EXTENSION_push(extensions, extension) <= 0) {
        sk_X509_EXTENSION_free(extensions);
        return 0;
    }
    int result = X509_REQ_add_extensions(request, extensions);
    sk_X509_EXTENSION_free(extensions);
    return result;
}

#endif
