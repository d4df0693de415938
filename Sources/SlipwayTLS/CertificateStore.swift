import Synchronization

/// The certificates the HTTPS edge serves, by host name: exact names, and `*.example.com`
/// wildcards that cover exactly one label, an exact name winning (the rules of the domains
/// table). Installing a certificate swaps it in at once for new handshakes; connections already
/// made keep the one they began with.
public final class CertificateStore: Sendable {
    private let byName = Mutex<[String: ServerCertificate]>([:])

    public init() {}

    /// Serves `certificate` for `name` (an exact name or a `*.` wildcard) from now on.
    public func install(_ certificate: ServerCertificate, for name: String) {
        let key = Self.normalized(name)
        byName.withLock { $0[key] = certificate }
    }

    public func remove(_ name: String) {
        let key = Self.normalized(name)
        byName.withLock { $0[key] = nil }
    }

    public var names: [String] { byName.withLock { Array($0.keys) }.sorted() }

    /// The certificate for a client's server name: the exact name's, else its parent's wildcard.
    public func certificate(for serverName: String) -> ServerCertificate? {
        let name = Self.normalized(serverName)
        return byName.withLock { table in
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
