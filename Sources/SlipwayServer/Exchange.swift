import Glibc
import SlipwayHTTP
import SlipwaySystem

/// One request that a dispatcher took over (`Disposition.takeOver`): its head, its body as it
/// arrives, and the client to answer. The handler runs on the worker serving the connection and
/// may block (on an upstream, say); the pool's monitor starts another worker meanwhile, as it
/// does for any handler that blocks.
///
/// A handler that would block only to wait for an answer (the app's response head) gives its
/// worker back instead (`waitForReadable`): the connection waits in the pool's epoll set, and a
/// worker runs the continuation when the descriptor is readable or the wait times out. Blocking
/// there cost a sleep and a wake-up, two context switches, per proxied request; nginx's event
/// loop pays neither.
///
/// The handler (or its last continuation) must end by returning one of the `Outcome`s the
/// exchange gives it, which is how the connection learns whether it can read the next request.
/// The exchange is valid until then.
public final class Exchange {
    /// How the exchange ended, as only the exchange can say.
    public struct Outcome {
        enum Kind {
            /// The answer went out and the body was read to its end: serve the next request.
            case carryOn
            /// Close the connection now.
            case close
            /// An answer went out before the body was read: our side is shut, and the client gets
            /// a moment to read it.
            case draining
            /// The handler owns the client's socket from now on.
            case detached
            /// Nothing is decided yet: resume the handler when a descriptor is readable.
            case waiting(Wait)
        }

        let kind: Kind
    }

    /// Why a wait's continuation runs.
    public enum Wake: Sendable {
        case readable
        /// The timeout passed first (or the descriptor could not be waited on).
        case timedOut
    }

    /// A handler waiting for a descriptor of its own, with what to do next.
    struct Wait {
        let descriptor: Int32
        let timeoutMilliseconds: Int
        let then: (Wake) -> Outcome
    }

    public let head: RequestHead
    public let framing: BodyFraming
    public let remoteAddress: String
    /// A buffer of the worker's for the handler's own reads (an upstream's answer), valid until
    /// the handler (or a wait's continuation) returns; a continuation may run on another worker,
    /// and finds that worker's buffer here. Request body pieces come in another buffer.
    public internal(set) var buffer: UnsafeMutableRawBufferPointer
    /// The request body may not exceed this (set it before reading); a chunked body that grows
    /// past it makes `nextBodyPiece` throw 413.
    public var bodyLimit = Int.max
    /// Body bytes handed out so far (decoded).
    public private(set) var bodyBytesRead = 0
    /// The body has been read to its end (a request without a body has none to read).
    public private(set) var bodyComplete: Bool
    /// Bytes written to the client for this request so far, head and body, the server's own
    /// answers included (what the access log records as sent).
    public var bytesSent: Int { connection.bytesWritten - bytesWrittenBefore }

    private unowned let connection: HTTPConnection
    private var chunked: ChunkedDecoder?
    private var askedToContinue = false
    private var finished = false
    /// The connection's count of bytes written when this exchange began (a kept-alive connection
    /// carries the earlier requests' bytes).
    private let bytesWrittenBefore: Int

    init(connection: HTTPConnection, head: RequestHead, framing: BodyFraming, remoteAddress: String,
         buffer: UnsafeMutableRawBufferPointer) {
        self.connection = connection
        self.head = head
        self.framing = framing
        self.remoteAddress = remoteAddress
        self.buffer = buffer
        bodyComplete = framing == .none
        bytesWrittenBefore = connection.bytesWritten
    }

    /// Whether the client may send another request after this one: it did not ask to close, and
    /// the server is not shutting down. An answer that keeps the connection open needs this.
    public var clientKeepsAlive: Bool { head.wantsKeepAlive && !connection.isShuttingDown }

    /// The client's socket, for waiting on it beside another (its end of the stream, say). Never
    /// read from or write to it directly: bytes the connection buffered would be lost.
    public var clientDescriptor: Int32 { connection.fd }

    // MARK: the request body

    /// The next piece of the request body, decoded (a chunked body's framing removed), or nil at
    /// its end; valid until the next call. Blocks for the client within the server's body
    /// timeout between reads. Throws `HTTPError` (408 too slow, 413 over `bodyLimit`, 400 bad
    /// framing) or `IOError` (the client went away).
    public func nextBodyPiece() throws -> UnsafeRawBufferPointer? {
        guard !bodyComplete else { return nil }
        if !askedToContinue {
            askedToContinue = true
            try connection.sendContinueIfExpected(head)
        }
        let piece: UnsafeRawBufferPointer?
        switch framing {
        case .none:
            piece = nil
        case .contentLength(let length):
            if length > bodyLimit { throw HTTPError.framing(413, "request body too large (limit \(bodyLimit) bytes)") }
            piece = try connection.bodyBytes(upTo: length - bodyBytesRead)
        case .chunked:
            if chunked == nil { chunked = ChunkedDecoder(limits: connection.limits, bodyLimit: bodyLimit) }
            piece = try connection.chunkedBodyBytes(&chunked!)
        }
        if let piece {
            bodyBytesRead += piece.count
            if case .contentLength(let length) = framing, bodyBytesRead == length { bodyComplete = true }
        } else {
            bodyComplete = true
        }
        return piece
    }

    // MARK: answering

    /// Writes bytes to the client, blocking within the server's write timeout.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try connection.writeAll(bytes)
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try connection.writeAll($0) }
    }

    /// Answers with a response of the server's own making. When the body was not read to its
    /// end, the connection closes after the answer (its next request cannot be found).
    public func respond(_ response: HTTPResponse) -> Outcome {
        end {
            do {
                if bodyComplete { return Outcome(kind: try connection.write(response, for: head) ? .carryOn : .close) }
                try connection.sendResponseAndClose(response)
                return Outcome(kind: .draining)
            } catch {
                return Outcome(kind: .close)
            }
        }
    }

    /// Answers an error in the shape the server uses for the request's path.
    public func respond(error: any HTTPResponseError) -> Outcome {
        respond(connection.errorResponse(error, path: head.path))
    }

    /// The handler wrote a whole answer itself; `keepAlive` says whether it told the client the
    /// connection stays open. It stays open only if the body was also read to its end.
    public func finish(keepAlive: Bool) -> Outcome {
        end { Outcome(kind: keepAlive && bodyComplete && clientKeepsAlive ? .carryOn : .close) }
    }

    /// Ends the exchange by closing the connection (the answer broke off, or the client left).
    public func abandon() -> Outcome {
        end { Outcome(kind: .close) }
    }

    /// The client speaks TLS (the HTTPS edge).
    public var isEncrypted: Bool { connection.isEncrypted }

    /// Hands the client's socket (non-blocking) to the handler, with the bytes the client sent
    /// after this request's head that the connection had already read (decrypted, over TLS); the
    /// server forgets the connection, and the handler closes the socket when it is done. Over TLS
    /// the session goes with it: the socket's bytes are the session's records, so the handler
    /// reads and writes through the session from then on.
    public func detach() -> DetachedClient {
        let pending = connection.takeBufferedInput()
        return DetachedClient(fd: connection.fd, pending: pending, tls: connection.tlsSession, outcome: end { Outcome(kind: .detached) })
    }

    /// Gives the worker back until `descriptor` (non-blocking, the handler's own) is readable, at
    /// most `timeoutMilliseconds`; then `then` runs on a worker and returns how the exchange goes
    /// on (it may wait again). The client's connection is neither read nor written meanwhile.
    /// `then` runs exactly once, whatever happens, so what the handler holds is always let go.
    public func waitForReadable(_ descriptor: Int32, timeoutMilliseconds: Int,
                                then: @escaping (Wake) -> Outcome) -> Outcome {
        precondition(!finished, "a wait after the exchange ended")
        return Outcome(kind: .waiting(Wait(descriptor: descriptor, timeoutMilliseconds: timeoutMilliseconds, then: then)))
    }

    private func end(_ body: () -> Outcome) -> Outcome {
        precondition(!finished, "an exchange ended twice")
        finished = true
        return body()
    }
}
