import FoundationEssentials
import Glibc

/// Times are stored and shown as ISO 8601 UTC with milliseconds, which sort correctly as text.
public enum Timestamp {
    public static func now() -> String { format(Date()) }

    public static func format(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var t = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        // "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", as String(format:) wrote it.
        let date = String(Int(parts.tm_year) + 1900, zeroPaddedTo: 4) + "-" + String(Int(parts.tm_mon) + 1, zeroPaddedTo: 2)
            + "-" + String(Int(parts.tm_mday), zeroPaddedTo: 2)
        let time = String(Int(parts.tm_hour), zeroPaddedTo: 2) + ":" + String(Int(parts.tm_min), zeroPaddedTo: 2)
            + ":" + String(Int(parts.tm_sec), zeroPaddedTo: 2) + "." + String(Int(ms % 1000), zeroPaddedTo: 3)
        return date + "T" + time + "Z"
    }

    /// Parses our own stored form, "YYYY-MM-DDTHH:MM:SS.mmmZ", by hand: a general ISO 8601 parser
    /// is costly, and pages format thousands of these (see BENCHMARKS.md, dashboard latency).
    static func parseStored(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count == 24, b[4] == 0x2d, b[7] == 0x2d, b[10] == 0x54, b[13] == 0x3a, b[16] == 0x3a, b[19] == 0x2e, b[23] == 0x5a else {
            return nil
        }
        func number(_ from: Int, _ count: Int) -> Int? {
            var n = 0
            for i in from..<from + count {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                n = n * 10 + Int(b[i] - 0x30)
            }
            return n
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
              let minute = number(14, 2), let second = number(17, 2), let ms = number(20, 3),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        // Days from the civil date (Howard Hinnant's algorithm), so no calendar object is needed.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second) + Double(ms) / 1000
        return Date(timeIntervalSince1970: seconds)
    }

    /// Other ISO 8601 forms (with a zone, with or without fractions) through FoundationEssentials,
    /// which reads them as ISO8601DateFormatter did; TimestampFormatTests compares the two.
    public static func parse(_ text: String) -> Date? {
        if let fast = parseStored(text) { return fast }
        if let d = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return d }
        return try? Date.ISO8601FormatStyle().parse(text)
    }

    /// The seed wrote SQLite's CURRENT_TIMESTAMP form, "YYYY-MM-DD HH:MM:SS" in UTC.
    public static func parseSQLite(_ text: String) -> String? {
        if let d = parse(text) { return format(d) }
        let iso = text.replacingAll(" ", with: "T") + "Z"
        return parse(iso).map(format)
    }
}
