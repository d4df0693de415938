/// App names: lowercase letters, digits and dashes, 1 to 40 characters. They become container
/// and image names and URL path segments, so nothing else is allowed.
public enum AppName {
    public static let maxLength = 40

    public static func isValid(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= maxLength else { return false }
        guard name.first != "-", name.last != "-" else { return false }
        return name.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-")
        }
    }

    /// "https://github.com/Owner/My_Repo.git" → "my-repo".
    public static func derive(from repository: String) -> String {
        var last = repository
        while last.hasSuffix("/") { last.removeLast() }
        if let slash = last.lastIndex(where: { $0 == "/" || $0 == ":" }) { last = String(last[last.index(after: slash)...]) }
        if last.hasSuffix(".git") { last.removeLast(4) }
        var out = ""
        for ch in last.lowercased() {
            if ch.isASCII, ch.isLetter || ch.isNumber { out.append(ch) } else if !out.hasSuffix("-") { out.append("-") }
        }
        out = String(out.prefix(maxLength))
        while out.hasPrefix("-") { out.removeFirst() }
        while out.hasSuffix("-") { out.removeLast() }
        return out.isEmpty ? "app" : out
    }
}
