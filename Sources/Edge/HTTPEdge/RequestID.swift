/// The `X-Request-Id` a proxied request carries to the app and back to the client: the client's
/// own when it is sane, so a request can be followed across systems, else a new random one.
enum RequestID {
    /// Longer ids are someone else's payload, not an id (Heroku's router takes 20-200 characters;
    /// 200 is generous for a UUID or a hex id).
    static let maximumLength = 200

    /// The client's id if it is 1-200 characters of letters, digits and `-_.:+/=@`: what ids
    /// (UUIDs, base64, hex, trace ids) are made of, and nothing that could reach a log as markup
    /// or a second line.
    static func accepted(_ value: String?) -> String? {
        guard let value, !value.isEmpty, value.utf8.count <= maximumLength else { return nil }
        let ok = value.utf8.allSatisfy { c in
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            default:
                return Array("-_.:+/=@".utf8).contains(c)
            }
        }
        return ok ? value : nil
    }

    /// 128 random bits in hex: the system generator (getrandom), so ids are not guessable.
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        for _ in 0..<2 {
            var word = generator.next() as UInt64
            for _ in 0..<16 {
                bytes.append(digits[Int(word & 0xf)])
                word >>= 4
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
