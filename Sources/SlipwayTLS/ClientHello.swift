/// The two ClientHello extensions the edge reads before OpenSSL has parsed them (the client
/// hello callback sees them raw): the server name (RFC 6066, section 3) and the ALPN protocols
/// (RFC 7301, section 3.1). Both come from anyone: every length is checked against what is there.
enum ClientHello {
    /// The protocol names of an ALPN extension's body; empty when it is malformed.
    static func protocols(_ body: UnsafeBufferPointer<UInt8>) -> [String] {
        guard body.count >= 2 else { return [] }
        let listLength = Int(body[0]) << 8 | Int(body[1])
        guard listLength == body.count - 2 else { return [] }
        var names: [String] = []
        var index = 2
        while index < body.count {
            let length = Int(body[index])
            let start = index + 1
            guard length > 0, start + length <= body.count else { return [] }
            names.append(String(decoding: body[start..<start + length], as: UTF8.self))
            index = start + length
        }
        return names
    }

    /// The host name of a server_name extension's body, lowercased; nil when it has none or is
    /// malformed.
    static func hostName(_ body: UnsafeBufferPointer<UInt8>) -> String? {
        guard body.count >= 2 else { return nil }
        let listLength = Int(body[0]) << 8 | Int(body[1])
        guard listLength == body.count - 2 else { return nil }
        var index = 2
        while index + 3 <= body.count {
            let type = body[index]
            let length = Int(body[index + 1]) << 8 | Int(body[index + 2])
            let start = index + 3
            guard start + length <= body.count else { return nil }
            if type == 0 {
                guard length > 0, length <= 253 else { return nil }
                return String(decoding: body[start..<start + length], as: UTF8.self).lowercased()
            }
            index = start + length
        }
        return nil
    }
}
