import Foundation

/// Times are stored and shown as ISO 8601 UTC with milliseconds, which sort correctly as text.
public enum Timestamp {
    public static func now() -> String { format(Date()) }

    public static func format(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var t = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                      Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(ms % 1000))
    }

    public static func parse(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }

    /// The seed wrote SQLite's CURRENT_TIMESTAMP form, "YYYY-MM-DD HH:MM:SS" in UTC.
    static func parseSQLite(_ text: String) -> String? {
        if let d = parse(text) { return format(d) }
        let iso = text.replacingOccurrences(of: " ", with: "T") + "Z"
        return parse(iso).map(format)
    }
}
