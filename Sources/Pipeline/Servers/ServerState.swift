/// Where a server stands, as the Servers page and the API show it.
public enum ServerState: String, Sendable, CaseIterable {
    /// Saved, never connected: its public key is waiting to be authorized there.
    case pending
    /// Connected: its host key is pinned and its engine answered.
    case ready
    /// The last attempt could not reach it or its engine; tried again with backoff.
    case unreachable
    /// It answered with another host key than the pinned one: refused until it is removed and
    /// added again, never accepted silently.
    case hostKeyChanged = "host-key-changed"
}
