import Glibc

/// A host name an app is served at, checked and in the form it is stored and routed by:
/// lowercase, without a trailing dot, a wildcard written `*.example.com`.
///
/// Names follow RFC 1123 (2.1): labels of letters, digits and hyphens, neither starting nor ending
/// with a hyphen, 1 to 63 characters; the whole at most 253; at least two labels. A wildcard is
/// only the whole first label and stands for exactly one label (as in TLS certificates), so the
/// edge's `DomainTable` and a certificate for the name will agree on what it covers.
public struct DomainName: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public var isWildcard: Bool { value.hasPrefix("*.") }
    public var description: String { value }

    /// RFC 1035 (2.3.4): 255 octets on the wire are 253 characters written out.
    public static let maxLength = 253
    public static let maxLabelLength = 63

    /// Why a name was refused; `description` is a sentence naming it.
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// A name as stored, already checked when it was given.
    init(stored: String) { value = stored }

    public init(parsing text: String) throws(Invalid) {
        func refuse(_ why: String) -> Invalid { Invalid(description: "\(text) \(why)") }
        guard !text.isEmpty else { throw Invalid(description: "an empty name is not a domain") }
        if text.contains("/") { throw refuse("is a URL or a path; give the host name alone, as in example.com") }
        if text.contains(":") {
            if text.hasPrefix("[") || Self.isIPv6(text) { throw refuse("is an IP address; a domain is a host name") }
            throw refuse("has a port; give the host name alone")
        }
        guard text.utf8.allSatisfy({ $0 < 0x80 }) else {
            throw refuse("is not ASCII; give an internationalized name in punycode (xn--...)")
        }
        var name = text.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        if Self.isIPv4(name) { throw refuse("is an IP address; a domain is a host name") }
        guard name.utf8.count <= Self.maxLength else { throw refuse("is longer than \(Self.maxLength) characters") }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for (index, label) in labels.enumerated() {
            guard !label.isEmpty else { throw refuse("has an empty label") }
            if label.contains("*") {
                guard index == 0, label == "*" else {
                    throw refuse("has a '*' that is not the whole first label; a wildcard is written *.example.com")
                }
                continue
            }
            guard label.utf8.count <= Self.maxLabelLength else {
                throw refuse("has a label longer than \(Self.maxLabelLength) characters")
            }
            if let bad = label.first(where: { !($0.isLetter || $0.isNumber || $0 == "-") }) {
                throw refuse("has the character '\(bad)'; a label is letters, digits and hyphens")
            }
            if label.hasPrefix("-") || label.hasSuffix("-") { throw refuse("has a label that starts or ends with a hyphen") }
        }
        // localhost is the machine itself, and a name the dashboard answers to; a name under it
        // (web.localhost) is fine: browsers send those to loopback too (RFC 6761, 6.3).
        if name == "localhost" {
            throw refuse("is this machine's loopback name, which the dashboard answers to; a name under it, such as web.localhost, works")
        }
        if labels[0] == "*" {
            // A certificate authority refuses a wildcard right under a top-level domain, and it
            // would take every unclaimed name there.
            guard labels.count >= 3 else { throw refuse("would cover a whole top-level domain; write a wildcard as *.example.com") }
        } else if labels.count < 2 {
            throw refuse("is a single label; a domain has at least two, as in example.com")
        }
        if Self.looksNumeric(labels[labels.count - 1]) {
            throw refuse("ends in a numeric label, which browsers read as an IP address")
        }
        value = name
    }

    private static func isIPv4(_ text: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    private static func isIPv6(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }

    /// The WHATWG URL standard parses a host whose last label is a decimal or 0x-hex number as
    /// IPv4 ("ends in a number"), so a browser would never look such a name up; no top-level
    /// domain is one.
    private static func looksNumeric(_ label: Substring) -> Bool {
        if label.allSatisfy({ $0.isASCII && $0.isNumber }) { return true }
        guard label.hasPrefix("0x") else { return false }
        return label.dropFirst(2).allSatisfy { $0.isHexDigit }
    }
}
