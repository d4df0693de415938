import SlipwaySystem
import Synchronization

/// Problems with how the server is set up that its operator should fix (an old git, cookies
/// shared with apps): each is logged once when raised and shown on every dashboard page until
/// the server restarts without it.
final class ServerWarnings: Sendable {
    /// Each warning has a stable id, for the page's element id and so a second raise is not a second line.
    struct Warning: Sendable, Equatable {
        let id: String
        let message: String
    }

    private let raised = Mutex<[Warning]>([])

    init() {}

    func raise(id: String, _ message: String) {
        let isNew = raised.withLock { list -> Bool in
            guard !list.contains(where: { $0.id == id }) else { return false }
            list.append(Warning(id: id, message: message))
            return true
        }
        if isNew { Log.warning(message) }
    }

    var all: [Warning] { raised.withLock { $0 } }
}
