/// What a client sent, made safe to keep in memory, show on a page and write as one field of a
/// log line: anyone can send a request, so these are user text.
///
/// Bytes outside printable ASCII, the space, `"` and `\` are written `\xHH`, as nginx escapes
/// variables in its access log (ngx_http_log_escape), so a line can be split on spaces and no
/// client can forge a second line or a terminal escape. Each field is cut to a bound, so the ring
/// of one app costs at most its capacity times these few kilobytes.
public enum AccessText {
    /// The longest path kept. Request lines may be longer (HTTPLimits allows 8 KiB, as nginx's
    /// large_client_header_buffers does), but a log line is for reading, and the ring is in memory.
    public static let maximumPathBytes = 1024
    /// Methods are tokens; the longest registered one (UPDATEREDIRECTREF) has 17 letters.
    public static let maximumMethodBytes = 32
    /// A request id is kept when the client sends one, so its length is the client's choice.
    public static let maximumRequestIDBytes = 128

    /// The request target without its query or fragment (they carry tokens and personal data,
    /// which have no place in a log kept for weeks), escaped and cut to `maximumPathBytes`.
    public static func path(fromTarget target: String) -> String {
        var bytes = Substring(target).utf8[...]
        if let end = bytes.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) {
            bytes = bytes[..<end]
        }
        let escaped = escape(bytes, limit: maximumPathBytes)
        return escaped.isEmpty ? "-" : escaped
    }

    public static func method(_ method: String) -> String {
        escape(Substring(method).utf8[...], limit: maximumMethodBytes)
    }

    public static func requestID(_ id: String) -> String {
        escape(Substring(id).utf8[...], limit: maximumRequestIDBytes)
    }

    /// Escapes `bytes` and stops before the escaped text would pass `limit` bytes, never inside
    /// an escape, so a cut field is still unambiguous.
    static func escape(_ bytes: Substring.UTF8View.SubSequence, limit: Int) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(min(bytes.count, limit))
        for byte in bytes {
            if isPlain(byte) {
                guard out.count + 1 <= limit else { break }
                out.append(byte)
            } else {
                guard out.count + 4 <= limit else { break }
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "x"), hexDigit(byte >> 4), hexDigit(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isPlain(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7f && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\")
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10
    }
}
