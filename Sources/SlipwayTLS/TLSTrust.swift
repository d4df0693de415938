/// Which certificate authorities an outbound TLS connection trusts.
public enum TLSTrust: Sendable {
    /// The system's bundle (Debian's ca-certificates), as curl and Go trust by default.
    case system
    /// A PEM bundle of its own (`--acme-ca-file`: a private or test CA).
    case caFile(String)
    /// Exactly these certificates (the tests' self-signed ones).
    case certificates([CertificateChain])
}
