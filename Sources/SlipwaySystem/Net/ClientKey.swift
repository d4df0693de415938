import Glibc

/// Who a client is, for counting what it does (failed logins, bad webhook signatures): its
/// IPv4 address, or the /64 of its IPv6 address. One host usually holds a whole /64, so keying
/// by the full IPv6 address would give it 2^64 fresh budgets.
public enum ClientKey {
    /// `address` as `Socket.address(of:)` writes it ("192.0.2.1", "2001:db8::1"). An IPv4-mapped
    /// IPv6 address is its IPv4 address; anything unparsable is its own key.
    public static func of(_ address: String) -> String {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 { return address }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address, &v6) == 1 else { return address }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            return bytes[12..<16].map(String.init).joined(separator: ".")
        }
        var prefix = ""
        for pair in stride(from: 0, to: 8, by: 2) {
            prefix += String(UInt16(bytes[pair]) << 8 | UInt16(bytes[pair + 1]), radix: 16) + ":"
        }
        return prefix + ":/64"
    }
}
