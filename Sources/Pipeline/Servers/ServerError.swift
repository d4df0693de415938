/// What cannot be done to a server as things stand; the API answers 404 for `notFound`, 409 for the rest.
public enum ServerError: Error, CustomStringConvertible, Sendable, Equatable {
    case nameTaken(String)
    case notFound(String)
    /// `local` is built in: it has no SSH, and it cannot be removed.
    case builtIn(String)
    /// Removing a server that still has apps would strand them.
    case hasApps(server: String, apps: [String])
    /// Another connection attempt to it is under way.
    case busy(String)
    /// Never connected, or its host key changed: nothing is sent to it.
    case notConnected(server: String, state: ServerState)

    public var description: String {
        switch self {
        case .nameTaken(let name): return "a server named \(name) already exists"
        case .notFound(let name): return "no server named \(name.prefix(100))"
        case .builtIn(let name): return "\(name) is the built-in server (this machine's own engine)"
        case .hasApps(let server, let apps):
            return "the server \(server) still has apps (\(apps.prefix(10).joined(separator: ", "))\(apps.count > 10 ? ", ..." : "")): move or delete them first"
        case .busy(let name): return "a connection to \(name) is already being tried"
        case .notConnected(let name, let state):
            return "the server \(name) is \(state.rawValue): connect it (POST /api/servers/\(name)/connect, or the Servers page) before deploying to it"
        }
    }
}
