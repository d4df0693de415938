/// Sizes as the size flags (`--max-request-body`, `--webhook-body-limit`) and an app's
/// `max_request_body` take them: bytes, or a number with a k, m or g suffix, in binary units
/// (as nginx reads `client_max_body_size`).
public enum ByteSize {
    /// The bytes `text` says, or nil when it is not a size or the bytes do not fit in an Int.
    /// The product is checked: "99999999999g" would otherwise trap, and an app's setting comes
    /// from anyone with the API token.
    public static func parse(_ text: String) -> Int? {
        let lower = text.lowercased()
        let unit: Int
        switch lower.last {
        case "k": unit = 1 << 10
        case "m": unit = 1 << 20
        case "g": unit = 1 << 30
        default: unit = 1
        }
        let digits = unit == 1 ? Substring(lower) : lower.dropLast()
        // 18 decimal digits always fit in an Int; no sign, no spaces, no fraction.
        guard !digits.isEmpty, digits.utf8.count <= 18, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let n = Int(digits) else { return nil }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: unit)
        return overflow ? nil : bytes
    }

    /// The shortest text `parse` reads back as `bytes`: "10m" for 10 MiB, "1000" for 1000 bytes.
    public static func text(_ bytes: Int) -> String {
        for (suffix, shift) in [("g", 30), ("m", 20), ("k", 10)] where bytes > 0 && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(suffix)"
        }
        return String(bytes)
    }
}
