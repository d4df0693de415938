import SlipwaySystem

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

    /// 128 random bits in hex: the kernel's generator (getrandom, through `RandomPool`, which
    /// fetches for many ids at once), so ids are not guessable.
    static func generate() -> String {
        let digits: StaticString = "0123456789abcdef"
        return withUnsafeTemporaryAllocation(byteCount: 16, alignment: 1) { random in
            RandomPool.shared.fill(random)
            return String(unsafeUninitializedCapacity: 32) { out in
                digits.withUTF8Buffer { hex in
                    for (i, byte) in random.enumerated() {
                        out[2 * i] = hex[Int(byte >> 4)]
                        out[2 * i + 1] = hex[Int(byte & 0xf)]
                    }
                }
                return 32
            }
        }
    }
}
