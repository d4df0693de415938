/// How an error answer is written: `{"error": {"code", "message"}}` for API and webhook clients,
/// a line of text for browsers and people. Each family of routes says which it speaks
/// (`Router.errorFormat(for:)`), so the connection and the responder never guess from a path.
public enum ErrorFormat: Sendable, Equatable {
    case json
    case text
}
