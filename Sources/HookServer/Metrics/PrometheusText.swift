import SlipwaySystem

/// Writes the Prometheus text exposition format (version 0.0.4): each family's HELP and TYPE,
/// then its samples; label values escaped as the format asks (backslash, double quote, line
/// break). Label values are names Slipway holds (apps, statuses, domains, steps), never a path,
/// a message or a secret.
struct PrometheusText {
    private(set) var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        text += name + Self.labels(labels) + " " + Self.number(value) + "\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Int) {
        sample(name, labels, Double(value))
    }

    /// A histogram's buckets, sum and count under `name`.
    mutating func histogram(_ name: String, _ labels: [(String, String)], _ h: Histogram) {
        for (bound, count) in zip(h.bounds, h.cumulative) {
            sample(name + "_bucket", labels + [("le", Self.number(bound))], count)
        }
        sample(name + "_bucket", labels + [("le", "+Inf")], h.count)
        sample(name + "_sum", labels, h.sum)
        sample(name + "_count", labels, h.count)
    }

    static func labels(_ labels: [(String, String)]) -> String {
        guard !labels.isEmpty else { return "" }
        return "{" + labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return String(value)
    }
}
