/// A listening socket passed from the running process to the one taking over, with the address
/// it listens on, as the hand-over's messages write it: one "HOST PORT" line per descriptor.
struct HandedListener: Sendable, Equatable {
    let host: String
    let port: Int
    let fd: Int32

    /// The text of the message that carries `listeners` (their descriptors go with it, in order).
    static func message(_ listeners: [HandedListener]) -> String {
        ([TakeoverMessage.listeners] + listeners.map { "\($0.host) \($0.port)" }).joined(separator: "\n")
    }

    /// The listeners in a message and its descriptors; nil when the lines and descriptors do not
    /// pair up (the caller then closes the descriptors).
    static func parse(_ text: String, descriptors: [Int32]) -> [HandedListener]? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.first == TakeoverMessage.listeners, lines.count - 1 == descriptors.count else { return nil }
        var listeners: [HandedListener] = []
        for (line, fd) in zip(lines.dropFirst(), descriptors) {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else { return nil }
            listeners.append(HandedListener(host: String(parts[0]), port: port, fd: fd))
        }
        return listeners
    }
}

/// The words of the upgrade hand-over, in the order they are sent.
enum TakeoverMessage {
    /// New → running: "takeover pid=N".
    static let takeover = "takeover"
    /// Running → new: the listening sockets, or "refused: why".
    static let listeners = "listeners"
    static let refused = "refused: "
    /// New → running: serving on them now.
    static let ready = "ready"
    /// Running → new: stopped accepting and stopped its background work; it drains and exits.
    static let released = "released"

    /// Where a data directory's running Slipway waits for the process that takes over.
    static func socketPath(dataDir: String) -> String { dataDir + "/takeover.sock" }
}
