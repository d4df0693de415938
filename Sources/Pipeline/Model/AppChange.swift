/// One line of an app's history of changes: who changed what, and when. It names what changed
/// (env var names, volumes, notification targets), never a value.
public struct AppChange: Sendable, Equatable {
    /// Where a change was made.
    public enum Actor: String, Sendable {
        case api
        case dashboard
    }

    public var at: String
    public var actor: Actor
    public var summary: String

    public init(at: String, actor: Actor, summary: String) {
        self.at = at
        self.actor = actor
        self.summary = summary
    }

    /// "env: added A, B; changed C; removed D", or nil when nothing changed. Names only.
    public static func envSummary(before: [(name: String, value: String)], after: [(String, String)]) -> String? {
        let old = Dictionary(before.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        let new = Dictionary(after.map { ($0.0, $0.1) }, uniquingKeysWith: { $1 })
        let added = new.keys.filter { old[$0] == nil }.sorted()
        let changed = new.keys.filter { old[$0] != nil && old[$0] != new[$0] }.sorted()
        let removed = old.keys.filter { new[$0] == nil }.sorted()
        var parts: [String] = []
        if !added.isEmpty { parts.append("added " + added.joined(separator: ", ")) }
        if !changed.isEmpty { parts.append("changed " + changed.joined(separator: ", ")) }
        if !removed.isEmpty { parts.append("removed " + removed.joined(separator: ", ")) }
        return parts.isEmpty ? nil : "env: " + parts.joined(separator: "; ")
    }

    /// "volumes: added data at /data; removed logs", or nil when nothing changed.
    public static func volumesSummary(before: [AppVolume], after: [AppVolume]) -> String? {
        let added = after.filter { !before.contains($0) }
        let removed = before.filter { volume in !after.contains(volume) }
        var parts: [String] = []
        if !added.isEmpty { parts.append("added " + added.map { "\($0.name) at \($0.path)" }.joined(separator: ", ")) }
        if !removed.isEmpty { parts.append("removed " + removed.map { "\($0.name) at \($0.path)" }.joined(separator: ", ")) }
        return parts.isEmpty ? nil : "volumes: " + parts.joined(separator: "; ")
    }
}
