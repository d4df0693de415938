/// Which target a request is for, by its Host header: what the HTTP edge routes by.
///
/// Names are given as Slipway stores them (Pipeline's `DomainName`): lowercase, without a
/// trailing dot, a wildcard written `*.` and its parent. An exact name wins over a wildcard, and a
/// wildcard stands for exactly one more label, as in TLS certificates (RFC 6125, 6.4.3):
/// `*.example.com` takes `www.example.com` but neither `example.com` nor `a.b.example.com`.
///
/// It lives here, below both Pipeline (which checks and stores the names) and Edge (which routes
/// by them), because Edge must not depend on Pipeline; generic over the target, it knows nothing
/// of apps.
public struct DomainTable<Target: Sendable>: Sendable {
    private let exact: [String: Target]
    /// Wildcards by their parent: `example.com` for `*.example.com`.
    private let wildcards: [String: Target]

    /// A name given twice keeps its first target (the store allows each name once anyway).
    public init(_ entries: some Sequence<(String, Target)>) {
        var exact = [String: Target](), wildcards = [String: Target]()
        for (name, target) in entries {
            let name = name.lowercased()
            if name.hasPrefix("*.") {
                let parent = String(name.dropFirst(2))
                if wildcards[parent] == nil { wildcards[parent] = target }
            } else if exact[name] == nil {
                exact[name] = target
            }
        }
        self.exact = exact
        self.wildcards = wildcards
    }

    public var count: Int { exact.count + wildcards.count }

    /// The names that are not wildcards, in no order.
    public var exactNames: [String] { Array(exact.keys) }

    /// The target for a Host header's value (`Example.com:8080`, `www.example.com.`), or nil
    /// when no name matches or the value is no host name (an IP literal, say).
    public func resolve(host: String) -> Target? {
        guard let name = Self.hostName(host) else { return nil }
        if let target = exact[name] { return target }
        guard let dot = name.utf8.firstIndex(of: UInt8(ascii: ".")) else { return nil }
        return wildcards[String(name[name.index(after: dot)...])]
    }

    /// The host name in a Host header's value: without its port and one trailing dot, lowercase.
    /// Nil for an IPv6 literal, an empty label, or any character no stored name has: such a
    /// value can equal no name, and rejecting it here keeps `*.example.com` itself, or
    /// `.example.com`, from matching the wildcard by its parent.
    public static func hostName(_ host: String) -> String? {
        var bytes = Array(host.utf8)
        if let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
            // An unbracketed host has no colon of its own, so this one starts the port.
            guard bytes[(colon + 1)...].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
            bytes.removeSubrange(colon...)
        }
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        guard !bytes.isEmpty, bytes.first != UInt8(ascii: "."), bytes.last != UInt8(ascii: ".") else { return nil }
        var previous: UInt8 = 0
        for i in bytes.indices {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): bytes[i] = c + 32
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"): break
            case UInt8(ascii: "."): if previous == c { return nil }
            default: return nil
            }
            previous = c
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
