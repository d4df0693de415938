import Glibc
import SlipwaySystem
import SlipwayTLS

/// The client's socket as the connection reads and writes it: plain TCP, or TLS over it (the
/// HTTPS edge). Every call returns at once; when the socket must be readable or writable first,
/// it says which (a TLS read may need to write, and a write to read), and the caller waits.
///
/// Owned by one connection and used by its owner only, as the connection is.
final class ClientTransport {
    enum Received {
        case bytes(Int)
        /// The client closed its side (or ended the TLS session).
        case end
        case wouldBlock(events: Int16)
    }

    enum Sent {
        case sent(Int)
        case wouldBlock(events: Int16)
    }

    let fd: Int32
    private let tls: TLSSession?
    /// TLS only: the handshake is not finished yet.
    private(set) var handshaking: Bool

    init(fd: Int32, tls: TLSServerContext?) throws {
        self.fd = fd
        self.tls = try tls?.session(on: fd)
        handshaking = tls != nil
    }

    var isEncrypted: Bool { tls != nil }
    /// The TLS session, for a connection handed over (`Exchange.detach`).
    var session: TLSSession? { tls }

    enum Handshake {
        /// Done (at once for plain TCP): HTTP follows.
        case established
        /// Waiting for the client's next bytes (the socket readable).
        case waiting
        /// Waiting for the client to read what the handshake sent (the socket writable).
        case waitingToWrite
        /// Done, and it was an ACME CA's TLS-ALPN-01 validation: nothing follows.
        case validated
    }

    /// Takes a TLS handshake as far as the socket allows. Throws when it failed.
    func continueHandshake() throws -> Handshake {
        guard let tls, handshaking else { return .established }
        switch try tls.handshake() {
        case .done:
            handshaking = false
            // A CA's TLS-ALPN-01 validation: the handshake was all it wanted (RFC 8737 says no
            // data follows), so the connection ends here.
            return tls.applicationProtocol == "acme-tls/1" ? .validated : .established
        case .waiting(.read):
            return .waiting
        case .waiting(.write):
            // A client that does not read its handshake's answer holds no worker while it
            // waits: the connection is parked until the socket is writable.
            return .waitingToWrite
        }
    }

    func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Received {
        if let tls {
            switch try tls.read(into: buffer) {
            case .bytes(let n): return .bytes(n)
            case .closed: return .end
            case .waiting(let want): return .wouldBlock(events: Self.events(want))
            }
        }
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .end }
            let code = errno
            if code == EINTR { continue }
            guard code == EAGAIN || code == EWOULDBLOCK else { throw IOError(function: "recv", errno: code) }
            return .wouldBlock(events: Int16(POLLIN))
        }
    }

    func send(_ bytes: UnsafeRawBufferPointer) throws -> Sent {
        if let tls {
            switch try tls.write(bytes) {
            case .wrote(let n): return .sent(n)
            case .waiting(let want): return .wouldBlock(events: Self.events(want))
            }
        }
        while true {
            // MSG_NOSIGNAL: a vanished client is an EPIPE here, never a SIGPIPE.
            let n = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .sent(n) }
            let code = errno
            if code == EINTR { continue }
            guard code == EAGAIN || code == EWOULDBLOCK else { throw IOError(function: "send", errno: code) }
            return .wouldBlock(events: Int16(POLLOUT))
        }
    }

    /// Whether decrypted bytes wait inside the TLS layer: the socket may not be readable, yet
    /// there is more to read.
    var hasBufferedInput: Bool { tls?.hasBufferedInput ?? false }

    /// Ends our side: close_notify first over TLS, then the TCP write side.
    func shutdownWrite() {
        tls?.shutdown()
        Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    private static func events(_ want: TLSSession.Want) -> Int16 {
        want == .read ? Int16(POLLIN) : Int16(POLLOUT)
    }
}
