/// Header fields in arrival order, looked up case-insensitively.
public struct HTTPHeaders: Sendable {
    public private(set) var fields: [(name: String, value: String)] = []

    public init(_ fields: [(String, String)] = []) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    public subscript(name: String) -> String? {
        fields.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    public func values(_ name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveEquals(name) }.map(\.value)
    }

    public mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }

    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        fields.append((name, value))
    }

    public mutating func remove(_ name: String) { fields.removeAll { $0.name.caseInsensitiveEquals(name) } }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Whether a comma-separated header (Connection, for example) lists `token`.
    public func hasToken(_ name: String, _ token: String) -> Bool {
        values(name).contains { value in
            value.split(separator: ",").contains { $0.trimmingSpaces().caseInsensitiveEquals(token) }
        }
    }
}

extension StringProtocol {
    /// ASCII letters compared without case, every other byte as it is. Inlinable, so callers in
    /// other modules get it specialised for String and Substring: as a generic call it went
    /// through runtime metadata lookups and a generic zip, and was 11% of the HTTP edge's CPU
    /// per request (perf, new-connection benchmark).
    @inlinable
    public func caseInsensitiveEquals(_ other: some StringProtocol) -> Bool {
        let a = utf8, b = other.utf8
        guard a.count == b.count else { return false }
        var j = b.startIndex
        for x in a {
            let y = b[j]
            b.formIndex(after: &j)
            if x == y { continue }
            let lower = x | 0x20
            guard lower == y | 0x20, lower >= UInt8(ascii: "a"), lower <= UInt8(ascii: "z") else { return false }
        }
        return true
    }

    @inlinable
    public func trimmingSpaces() -> Substring {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
