import Synchronization

/// The certificates the HTTPS edge serves, by host name: exact names, and `*.example.com`
/// wildcards that cover exactly one label, an exact name winning (the rules of the domains
/// table). Installing a certificate swaps it in at once for new handshakes; connections already
/// made keep the one they began with.
///
/// A certificate stays stored when its name stops being served (a domain removed from its app,
/// to be added back, say), but is shown to no client until `isServed` says the name is served
/// again: a handshake for it gets `unrecognized_name`, like any name no app has.
public final class CertificateStore: Sendable {
    private let byName = Mutex<[String: ServerCertificate]>([:])
    /// TLS-ALPN-01 challenges in progress, by exact name: shown only to a client that asks for
    /// `acme-tls/1`.
    private let challenges = Mutex<[String: ServerCertificate]>([:])
    private let isServed: @Sendable (String) -> Bool

    /// Every name served (the tests, and a store with nothing to hide).
    public convenience init() {
        self.init(isServed: { _ in true })
    }

    public init(isServed: @escaping @Sendable (String) -> Bool) {
        self.isServed = isServed
    }

    /// Serves `certificate` for `name` (an exact name or a `*.` wildcard) from now on.
    public func install(_ certificate: ServerCertificate, for name: String) {
        let key = Self.normalized(name)
        byName.withLock { $0[key] = certificate }
    }

    public func remove(_ name: String) {
        let key = Self.normalized(name)
        byName.withLock { $0[key] = nil }
    }

    /// Answers the CA's TLS-ALPN-01 validation of `name` with `certificate` until removed.
    public func installChallenge(_ certificate: ServerCertificate, for name: String) {
        let key = Self.normalized(name)
        challenges.withLock { $0[key] = certificate }
    }

    public func removeChallenge(_ name: String) {
        let key = Self.normalized(name)
        challenges.withLock { $0[key] = nil }
    }

    /// The challenge certificate for a client that asked for `acme-tls/1` and `serverName`.
    public func challengeCertificate(for serverName: String) -> ServerCertificate? {
        let key = Self.normalized(serverName)
        return challenges.withLock { $0[key] }
    }

    public var names: [String] { byName.withLock { Array($0.keys) }.sorted() }

    /// The certificate for a client's server name: the exact name's, else its parent's wildcard;
    /// none for a name not served.
    public func certificate(for serverName: String) -> ServerCertificate? {
        let name = Self.normalized(serverName)
        guard isServed(name) else { return nil }
        return installed(for: name)
    }

    /// Whether a name an app is known to serve (the edge has just routed it) has a certificate:
    /// the same lookup without asking `isServed` again.
    public func hasCertificate(forServed serverName: String) -> Bool {
        installed(for: Self.normalized(serverName)) != nil
    }

    private func installed(for name: String) -> ServerCertificate? {
        byName.withLock { table in
            if let exact = table[name] { return exact }
            guard let dot = name.firstIndex(of: "."), name.index(after: dot) < name.endIndex else { return nil }
            return table["*" + name[dot...]]
        }
    }

    private static func normalized(_ name: String) -> String {
        var name = name.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        return name
    }
}
