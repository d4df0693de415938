import SlipwayTLS

/// A client connection the server has handed over (`Exchange.detach`).
///
/// @unchecked Sendable: it moves to the one thread that owns it from then on (an upgraded
/// connection's relay); the server keeps no reference to the socket or the session.
public struct DetachedClient: @unchecked Sendable {
    /// The socket, non-blocking.
    public let fd: Int32
    /// What the client sent after the request's head that the server had read already (decrypted).
    public let pending: [UInt8]
    /// Over TLS, the session: the socket's bytes are its records.
    public let tls: TLSSession?
    /// What the handler returns to the server.
    public let outcome: Exchange.Outcome
}
