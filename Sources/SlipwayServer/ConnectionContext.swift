import SlipwayTLS

/// What every connection of one server shares: its settings, the dispatcher, and whether the
/// server is shutting down. Passed down by value when a connection is made; nothing in it
/// points back at the server or the pool.
struct ConnectionContext: Sendable {
    let options: ServerOptions
    let dispatcher: any RequestDispatcher
    let shutdown: ShutdownFlag
    /// Memory for request bodies, shared by all connections.
    let bodies: BodyMemoryBudget
    /// Set for a server that speaks TLS (the HTTPS edge): each connection's handshake comes first.
    let tls: TLSServerContext?
}
