import Glibc
import Pipeline
import SlipwaySystem
import Synchronization

/// One client connection. It holds no thread while it waits: between requests, and while a
/// request's head trickles in, it is parked in the pool's epoll set and any worker resumes it
/// when bytes arrive (`ConnectionPool`). Once a head is complete, one worker serves that request
/// to the end (body, handler, response), which is what keeps pipelined answers in order.
///
/// @unchecked Sendable: a connection moves between threads but has one owner at a time, the
/// worker or the pool's monitor that claimed it through `parking` (a claim succeeds only on a
/// parked connection and unparks it). Everything but `parking` and `deadline` is touched only
/// by the owner, and parking again is the owner's last act before it lets go.
final class HTTPConnection: @unchecked Sendable {
    /// What the owner does with the connection after `resume` or `expire`: park it for more
    /// bytes, close it, or leave it (a deferred response will bring it back, `finishDeferred`).
    enum Step { case park, close, suspend }
    /// What a parked connection waits for, which decides what its deadline means.
    private enum Phase { case idle, head, draining }
    private enum ServeResult { case keepAlive, close, drain, suspend }

    /// A request whose response is deferred, kept until the response is ready.
    private struct Suspended {
        var head: RequestHead
        var request: HTTPRequest
        var deferred: DeferredResponse
    }
    private enum ReadResult { case data, eof, timeout }

    private struct Parking {
        var parked = false
        var registered = false
        var idle = true
    }

    let fd: Int32
    let token: UInt64
    private let remoteAddress: String
    private let options: ServerOptions
    private let responder: Responder
    private let server: HTTPServer
    private unowned let pool: ConnectionPool
    private let parking = Mutex(Parking())
    /// When a parked connection's wait ends (monotonic milliseconds); read by the monitor's sweep.
    let deadline: Atomic<Int>
    private var phase = Phase.idle
    private var peerClosed = false
    private var suspended: Suspended?
    private var buffer = [UInt8]()
    /// The resuming worker's read buffer, lent for the length of one `resume`.
    private var scratch = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    init(fd: Int32, token: UInt64, remoteAddress: String, server: HTTPServer, pool: ConnectionPool) {
        self.fd = fd
        self.token = token
        self.pool = pool
        self.remoteAddress = remoteAddress
        self.options = server.options
        self.responder = server.responder
        self.server = server
        // A client that connects and sends nothing is dropped quietly after the header timeout.
        self.deadline = Atomic(monotonicMilliseconds() + server.options.headerTimeoutMilliseconds)
    }

    // MARK: ownership

    /// Arms the descriptor for its next bytes and lets go of the connection. False when the
    /// descriptor could not be armed (the owner then closes it).
    func park(in epoll: Epoll) -> Bool {
        parking.withLock { p in
            p.parked = true
            p.idle = phase == .idle
            do {
                if p.registered {
                    try epoll.rearm(fd, events: Epoll.readable | Epoll.oneShot, token: token)
                } else {
                    try epoll.add(fd, events: Epoll.readable | Epoll.oneShot, token: token)
                    p.registered = true
                }
                return true
            } catch {
                p.parked = false
                return false
            }
        }
    }

    /// Takes a parked connection whose bytes arrived. False when someone else holds it.
    func claim() -> Bool {
        parking.withLock { p in
            guard p.parked else { return false }
            p.parked = false
            return true
        }
    }

    /// Takes a parked connection whose deadline has passed, or, at shutdown, one waiting idle.
    func claimIfExpired(now: Int, shuttingDown: Bool) -> Bool {
        parking.withLock { p in
            guard p.parked, deadline.load(ordering: .relaxed) <= now || (shuttingDown && p.idle) else { return false }
            p.parked = false
            return true
        }
    }

    func close() { Glibc.close(fd) }

    // MARK: serving

    /// Serves every complete request the client has sent, as far as it can without waiting for
    /// the client; says whether to park the connection for more bytes or to close it.
    func resume(scratch: UnsafeMutableRawBufferPointer) -> Step {
        self.scratch = scratch
        defer { self.scratch = UnsafeMutableRawBufferPointer(start: nil, count: 0) }
        do {
            try readAvailable()
            if phase == .draining {
                buffer.removeAll(keepingCapacity: true)
                return peerClosed ? .close : .park
            }
            return try serveBuffered()
        } catch {
            // A broken connection concerns only this client; nothing else is affected.
            return .close
        }
    }

    /// Writes the response a suspended request was waiting for, then goes on as `resume` does.
    func finishDeferred(scratch: UnsafeMutableRawBufferPointer) -> Step {
        self.scratch = scratch
        defer { self.scratch = UnsafeMutableRawBufferPointer(start: nil, count: 0) }
        guard let waiting = suspended, let make = waiting.deferred.take() else { return .close }
        suspended = nil
        let response = responder.respond(to: waiting.request, deferred: make)
        let keepAlive = waiting.head.wantsKeepAlive && !server.isShuttingDown && response.headers["Connection"] == nil
        do {
            guard try write(response, for: waiting.head, keepAlive: keepAlive) else { return .close }
            phase = .idle
            deadline.store(monotonicMilliseconds() + options.idleTimeoutMilliseconds, ordering: .relaxed)
            return try serveBuffered()
        } catch {
            return .close
        }
    }

    /// Serves the complete requests in the buffer, in order.
    private func serveBuffered() throws -> Step {
        while true {
            if buffer.isEmpty { return peerClosed ? .close : .park }
            if phase == .idle {
                phase = .head
                deadline.store(monotonicMilliseconds() + options.headerTimeoutMilliseconds, ordering: .relaxed)
            }
            switch RequestHeadParser.scan(buffer[...], limits: options.limits) {
            case .incomplete:
                return peerClosed ? .close : .park
            case .failed(let error):
                try sendError(error, path: "")
                return .park
            case .complete(let headLength):
                switch try serve(headLength: headLength) {
                case .keepAlive:
                    phase = .idle
                    deadline.store(monotonicMilliseconds() + options.idleTimeoutMilliseconds, ordering: .relaxed)
                case .close: return .close
                case .drain: return .park
                case .suspend: return .suspend
                }
            }
        }
    }

    /// The deadline of a parked connection has passed (or the server is shutting down and it is
    /// idle): an idle client is dropped quietly, as nginx and Go do; a head that never finished
    /// gets a 408, then a short drain.
    func expire() -> Step {
        switch phase {
        case .idle, .draining:
            return .close
        case .head:
            var response = HTTPResponse.error(HTTPError.framing(408, "request headers not received in time"), path: "")
            response.headers.set("Connection", "close")
            // One attempt that cannot block: the monitor that calls this serves no one else meanwhile.
            let bytes = encode(response, for: nil, keepAlive: false).bytes
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            startDraining()
            return .park
        }
    }

    /// Reads whatever the client has sent, without waiting.
    private func readAvailable() throws {
        while !peerClosed {
            switch try receive() {
            case .bytes(let n):
                // A short read means the socket is empty: no second recv just to hear EAGAIN.
                if n < scratch.count { return }
            case .end:
                peerClosed = true
            case .wouldBlock:
                return
            }
        }
    }

    private enum Received { case bytes(Int), end, wouldBlock }

    /// One recv into the buffer, through the worker's scratch.
    private func receive() throws -> Received {
        while true {
            let n = recv(fd, scratch.baseAddress, scratch.count, 0)
            if n > 0 {
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                return .bytes(n)
            }
            if n == 0 { return .end }
            let code = errno
            if code == EINTR { continue }
            guard code == EAGAIN || code == EWOULDBLOCK else { throw IOError(function: "recv", errno: code) }
            return .wouldBlock
        }
    }

    /// Serves the request whose head is the first `headLength` bytes of the buffer.
    private func serve(headLength: Int) throws -> ServeResult {
        let head: RequestHead
        let framing: BodyFraming
        do {
            head = try RequestHeadParser.parse(buffer[0..<headLength])
            framing = try BodyFraming.of(head)
        } catch {
            try sendError(error, path: "")
            return .drain
        }
        buffer.removeFirst(headLength)
        let errorPath = head.path

        let resolution = responder.router.resolve(method: head.method, path: head.path)
        let bodyLimit = responder.bodyLimit(for: resolution)

        if let expect = head.headers["Expect"] {
            guard expect.caseInsensitiveEquals("100-continue") else {
                try sendError(HTTPError.framing(417, "unsupported expectation"), path: errorPath)
                return .drain
            }
        }
        // The limit is decided from Content-Length before a byte of the body is read.
        if case .contentLength(let n) = framing, n > bodyLimit {
            try sendError(HTTPError.framing(413, "request body too large (limit \(bodyLimit) bytes)"), path: errorPath)
            return .drain
        }
        if framing != .none, head.headers["Expect"] != nil, buffer.isEmpty {
            try writeAll(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        }

        let body: [UInt8]
        do {
            body = try readBody(framing, limit: bodyLimit)
        } catch let error as HTTPError {
            try sendError(error, path: errorPath)
            return .drain
        }

        let request = HTTPRequest(head: head, body: body, remoteAddress: remoteAddress)
        let response = responder.respond(to: request, resolution: resolution)
        if case .deferred(let deferred) = response.body {
            suspended = Suspended(head: head, request: request, deferred: deferred)
            // The pool holds on to nothing while the connection waits; this closure does.
            deferred.whenReady { [pool, self] in pool.resume(deferred: self) }
            return .suspend
        }
        let keepAlive = head.wantsKeepAlive && !server.isShuttingDown && response.headers["Connection"] == nil
        return try write(response, for: head, keepAlive: keepAlive) ? .keepAlive : .close
    }

    private func readBody(_ framing: BodyFraming, limit: Int) throws -> [UInt8] {
        let totalDeadline = monotonicMilliseconds() + options.bodyTotalTimeoutMilliseconds
        func more() throws {
            let deadline = min(totalDeadline, monotonicMilliseconds() + options.bodyTimeoutMilliseconds)
            switch try readMore(deadline: deadline) {
            case .data: return
            case .eof: throw IOError(function: "recv", errno: ECONNRESET)
            case .timeout: throw HTTPError.framing(408, "request body not received in time")
            }
        }
        switch framing {
        case .none:
            return []
        case .contentLength(let length):
            while buffer.count < length { try more() }
            let body = Array(buffer[0..<length])
            buffer.removeFirst(length)
            return body
        case .chunked:
            var decoder = ChunkedDecoder(limits: options.limits, bodyLimit: limit)
            var index = 0
            while true {
                let done = try decoder.feed(buffer, index: &index)
                buffer.removeFirst(index)
                index = 0
                if done { return decoder.body }
                try more()
            }
        }
    }

    // MARK: reading

    /// Waits for more of a body, blocking this worker: a request being received is served to
    /// its end by one worker, within the body timeouts.
    private func readMore(deadline: Int) throws -> ReadResult {
        while true {
            switch try receive() {
            case .bytes: return .data
            case .end: return .eof
            case .wouldBlock:
                let remaining = deadline - monotonicMilliseconds()
                if remaining <= 0 { return .timeout }
                if try Socket.wait(fd, events: Int16(POLLIN), timeoutMilliseconds: remaining) == .timeout { return .timeout }
            }
        }
    }

    // MARK: writing

    /// Answers a request that cannot be served, then lets the client read the answer before
    /// the close: our side is shut and what the client still sends is read and dropped for a
    /// moment (parked, not on a worker), so the kernel does not turn unread request bytes into a
    /// reset that destroys the response.
    private func sendError(_ error: Error, path: String) throws {
        let httpError = (error as? HTTPError) ?? HTTPError.framing(400, "bad request")
        var response = HTTPResponse.error(httpError, path: path)
        response.headers.set("Connection", "close")
        _ = try write(response, for: nil, keepAlive: false)
        startDraining()
    }

    private func startDraining() {
        shutdown(fd, Int32(SHUT_WR))
        phase = .draining
        buffer.removeAll(keepingCapacity: true)
        deadline.store(monotonicMilliseconds() + 500, ordering: .relaxed)
    }

    /// A response's head and body bytes, and what follows them.
    private struct Encoded {
        var bytes: [UInt8]
        var stream: (@Sendable (ResponseBodyWriter) throws -> Void)?
        var chunked: Bool
        var keepAlive: Bool
    }

    private func encode(_ response: HTTPResponse, for head: RequestHead?, keepAlive: Bool) -> Encoded {
        var headers = response.headers
        var keepAlive = keepAlive
        let isHead = head?.method == "HEAD"
        let isHTTP10 = head?.isHTTP10 ?? false
        headers.set("Date", HTTPDate.now())
        if !headers.contains("X-Content-Type-Options") { headers.add("X-Content-Type-Options", "nosniff") }

        var bodyBytes: [UInt8] = []
        var stream: (@Sendable (ResponseBodyWriter) throws -> Void)?
        let noBody = response.status == 204 || response.status == 304 || response.status < 200
        switch response.body {
        case .bytes(let bytes):
            bodyBytes = bytes
            if !noBody { headers.set("Content-Length", String(bytes.count)) }
        case .deferred:
            // `Responder.respond(to:deferred:)` never returns one; nothing to write.
            break
        case .stream(let producer):
            stream = producer
            if isHTTP10 {
                // HTTP/1.0 has no chunked coding: the end of the body is the close.
                keepAlive = false
            } else {
                headers.set("Transfer-Encoding", "chunked")
            }
        }
        if !keepAlive {
            headers.set("Connection", "close")
        } else if isHTTP10 {
            headers.set("Connection", "keep-alive")
        }

        var out = "HTTP/1.1 \(response.status) \(HTTPStatus.reason(response.status))\r\n"
        for (name, value) in headers.fields { out += "\(name): \(value)\r\n" }
        out += "\r\n"
        var bytes = Array(out.utf8)
        if !isHead && !noBody { bytes.append(contentsOf: bodyBytes) }
        return Encoded(bytes: bytes, stream: isHead ? nil : stream, chunked: !isHTTP10, keepAlive: keepAlive)
    }

    /// Writes a response; returns whether the connection may serve another request.
    private func write(_ response: HTTPResponse, for head: RequestHead?, keepAlive: Bool) throws -> Bool {
        let encoded = encode(response, for: head, keepAlive: keepAlive)
        try writeAll(encoded.bytes)
        if let stream = encoded.stream {
            let writer = ConnectionBodyWriter(connection: self, chunked: encoded.chunked)
            do {
                try stream(writer)
            } catch {
                return false
            }
            if encoded.chunked { try writeAll(Array("0\r\n\r\n".utf8)) }
        }
        return encoded.keepAlive
    }

    fileprivate func writeAll(_ bytes: [UInt8]) throws {
        var offset = 0
        var deadline = monotonicMilliseconds() + options.writeTimeoutMilliseconds
        while offset < bytes.count {
            // MSG_NOSIGNAL: a vanished client is an EPIPE here, never a SIGPIPE.
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                offset += n
                deadline = monotonicMilliseconds() + options.writeTimeoutMilliseconds
                continue
            }
            let code = errno
            if code == EINTR { continue }
            guard code == EAGAIN || code == EWOULDBLOCK else { throw IOError(function: "send", errno: code) }
            let remaining = deadline - monotonicMilliseconds()
            guard remaining > 0,
                  try Socket.wait(fd, events: Int16(POLLOUT), timeoutMilliseconds: remaining) == .ready else {
                throw IOError(function: "send", errno: ETIMEDOUT)
            }
        }
    }
}

/// Writes a streamed body to its connection, chunk-framed on HTTP/1.1.
///
/// @unchecked Sendable is safe because a writer is used only by the worker that owns the connection,
/// inside the stream closure that connection calls; it never outlives that call.
private final class ConnectionBodyWriter: ResponseBodyWriter, @unchecked Sendable {
    private let connection: HTTPConnection
    private let chunked: Bool

    init(connection: HTTPConnection, chunked: Bool) {
        self.connection = connection
        self.chunked = chunked
    }

    func write(_ bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { return }
        if chunked {
            try connection.writeAll(Array((String(bytes.count, radix: 16) + "\r\n").utf8) + bytes + [0x0d, 0x0a])
        } else {
            try connection.writeAll(bytes)
        }
    }
}
