import SlipwaySystem

/// `user@host[:port]`, checked: these become arguments of ssh and docker, so nothing in them may
/// read as an option or carry a second word.
public struct SSHDestination: Sendable, Equatable, CustomStringConvertible {
    public let user: String
    public let host: String
    public let port: Int

    public init(user: String, host: String, port: Int = 22) {
        self.user = user
        self.host = host
        self.port = port
    }

    public var description: String { port == 22 ? "\(user)@\(host)" : "\(user)@\(host):\(port)" }

    /// Docker's SSH transport URL.
    public var dockerURL: String { "ssh://\(user)@\(host):\(port)" }

    public static func parse(_ text: String) throws(ValidationError) -> SSHDestination {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw ValidationError("ssh", "ssh must be user@host or user@host:port, got '\(text.prefix(100))'")
        }
        let user = String(parts[0])
        guard isValidUser(user) else {
            throw ValidationError("ssh", "ssh: the user must be 1 to 32 letters, digits, '_', '.' or '-', not starting with '-'")
        }
        var host = String(parts[1])
        var port = 22
        if let colon = host.lastIndex(of: ":") {
            guard let value = Int(host[host.index(after: colon)...]), (1...65535).contains(value) else {
                throw ValidationError("ssh", "ssh: the port must be a number from 1 to 65535")
            }
            port = value
            host = String(host[..<colon])
        }
        guard isValidHost(host) else {
            throw ValidationError("ssh", "ssh: the host must be an IPv4 address or a host name, got '\(host.prefix(100))'")
        }
        return SSHDestination(user: user, host: host.lowercased(), port: port)
    }

    /// A user name as useradd takes it.
    static func isValidUser(_ user: String) -> Bool {
        guard (1...32).contains(user.utf8.count), user.first != "-" else { return false }
        return user.utf8.allSatisfy { $0.isASCIILetterOrDigit || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// A dotted-quad IPv4 address, as the edge and the health checks dial.
    public static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            (1...3).contains(part.count) && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber) && Int(part).map { $0 <= 255 } == true
                && !(part.count > 1 && part.first == "0")
        }
    }

    /// An IPv4 address or a DNS name (letters, digits, dashes, dots; no label starting with a dash).
    public static func isValidHost(_ host: String) -> Bool {
        guard (1...253).contains(host.utf8.count) else { return false }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { $0.isASCIILetterOrDigit || $0 == UInt8(ascii: "-") }
        }
    }
}

extension UInt8 {
    fileprivate var isASCIILetterOrDigit: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
