import CSystem
import Glibc
import SlipwayHTTP
import SlipwayTLS
import SlipwaySystem
import Synchronization

/// One client connection. It holds no thread while it waits: between requests, and while a
/// request's head trickles in, it is parked in the pool's epoll set and any worker resumes it
/// when bytes arrive (`ConnectionPool`). Once a head is complete, one worker serves that request
/// to the end (body, handler, response), which is what keeps pipelined answers in order.
///
/// It knows nothing of the pool or the server: the pool parks it, hands it to a worker, and is
/// told what to do next by the `Step` each call returns.
///
/// @unchecked Sendable: a connection moves between threads but has one owner at a time, the
/// worker or the pool's monitor that claimed it through `custody` (a claim succeeds only on a
/// parked connection and unparks it). Everything but `custody` and `deadline` is touched only
/// by the owner, and parking again is the owner's last act before it lets go.
final class HTTPConnection: @unchecked Sendable {
    /// What the owner does with the connection after `resume`, `finishDeferred`, `wake` or
    /// `expire`: park it for more bytes, close it, or set it aside until the deferred response
    /// is ready (then `finishDeferred`).
    enum Step {
        case park
        case close
        case suspend(DeferredResponse)
        /// A handler took the socket over (`Exchange.detach`): forget the connection, leave the socket open.
        case detach
        /// A handler waits for a descriptor of its own (`Exchange.waitForReadable`): park the
        /// connection on that descriptor (`parkWaiting`), then `wake` it.
        case wait
        /// Hand the connection to the next free worker, which calls `finishDeferred` (a wait
        /// that timed out: its continuation may write to the client, which the monitor must not).
        case wakeOnWorker
    }

    /// A request whose response is deferred, kept until the response is ready.
    struct Suspended {
        var head: RequestHead
        var request: HTTPRequest
        var deferred: DeferredResponse
    }

    /// Where the connection is in its life. The deadline means something different in each.
    enum State {
        /// Waiting for a request's first byte: the idle timeout (the header timeout before the
        /// first request); when it passes the connection closes quietly, as nginx and Go do.
        case idle
        /// Part of a head has arrived: the header timeout; when it passes, 408.
        case readingHead
        /// A handler's response is deferred; the connection is off the epoll set until it is ready.
        case awaitingResponse(Suspended)
        /// A handler that took an exchange over waits for its own descriptor (the app's answer);
        /// the deadline is the wait's timeout.
        case waiting(Exchange, Exchange.Wait)
        /// An error was answered and our side shut: what the client still sends is read and
        /// dropped for a moment, so unread bytes do not turn into a reset that destroys the answer.
        case draining
    }

    /// Who holds the connection, guarded for the monitor, which looks at connections it does not own.
    private struct Custody {
        enum Holder { case owner, epoll }
        var holder = Holder.owner
        /// Parked with nothing begun: shutdown may close it at once.
        var parkedIdle = true
        var registered = false
        /// Parked on a handler's descriptor rather than the client's: only an event of that
        /// descriptor's may claim it.
        var waiting = false
    }

    /// The client's bytes not yet consumed, and whether it has closed its side.
    private struct Input {
        var bytes = [UInt8]()
        var ended = false
    }

    private enum ReadResult { case data, eof, timeout }
    private enum Received { case bytes(Int), end, wouldBlock(events: Int16) }

    let fd: Int32
    /// Plain TCP or TLS: every byte to and from the client goes through it.
    private let transport: ClientTransport
    let token: UInt64
    private let remoteAddress: String
    private let context: ConnectionContext
    private var options: ServerOptions { context.options }
    private var dispatcher: any RequestDispatcher { context.dispatcher }
    private let custody = Mutex(Custody())
    /// When a parked connection's wait ends (monotonic milliseconds); read by the monitor's sweep.
    let deadline: Atomic<Int>
    private(set) var state = State.idle
    private var input = Input()
    /// The TLS handshake waits for the client to read what it sent: parked for writability.
    private var parksForWrite = false
    /// The resuming worker's read buffer, lent for the length of one `resume`.
    private var scratch = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// The worker's second buffer, lent to a handler that takes an exchange over.
    private var spare = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// Bytes written to the client since the connection opened, heads included: an exchange
    /// reports its share to the access log (nginx's $bytes_sent).
    private(set) var bytesWritten = 0

    init(transport: ClientTransport, token: UInt64, remoteAddress: String, context: ConnectionContext) {
        self.transport = transport
        self.fd = transport.fd
        self.token = token
        self.remoteAddress = remoteAddress
        self.context = context
        // A client that connects and sends nothing is dropped quietly after the header timeout.
        self.deadline = Atomic(monotonicMilliseconds() + context.options.headerTimeoutMilliseconds)
    }

    // MARK: state transitions

    /// The first byte of a request arrived.
    private func beginHead() {
        guard case .idle = state else { preconditionFailure("a head begun in state \(state)") }
        state = .readingHead
        deadline.store(monotonicMilliseconds() + options.headerTimeoutMilliseconds, ordering: .relaxed)
    }

    /// A response went out and the connection stays open for the next request.
    private func finishRequest() {
        switch state {
        case .readingHead, .awaitingResponse: break
        case .idle, .draining, .waiting: preconditionFailure("a request finished in state \(state)")
        }
        state = .idle
        deadline.store(monotonicMilliseconds() + options.idleTimeoutMilliseconds, ordering: .relaxed)
    }

    private func suspend(_ suspended: Suspended) {
        guard case .readingHead = state else { preconditionFailure("a response deferred in state \(state)") }
        state = .awaitingResponse(suspended)
    }

    /// Our side is shut after an error answer; the client gets a moment to read it.
    private func startDraining() {
        transport.shutdownWrite()
        state = .draining
        input.bytes.removeAll(keepingCapacity: true)
        deadline.store(monotonicMilliseconds() + 500, ordering: .relaxed)
    }

    // MARK: custody

    /// Arms the descriptor for its next bytes and lets go of the connection. False when the
    /// descriptor could not be armed (the owner then closes it).
    func park(in epoll: Epoll) -> Bool {
        let idle: Bool
        if case .idle = state { idle = true } else { idle = false }
        let events = parksForWrite ? Epoll.writable | Epoll.oneShot : Epoll.readable | Epoll.oneShot
        return custody.withLock { c in
            c.holder = .epoll
            c.parkedIdle = idle
            c.waiting = false
            do {
                if c.registered {
                    try epoll.rearm(fd, events: events, token: token)
                } else {
                    try epoll.add(fd, events: events, token: token)
                    c.registered = true
                }
                return true
            } catch {
                c.holder = .owner
                return false
            }
        }
    }

    /// Arms the descriptor a handler waits for (`Step.wait`) under `token`, and lets go of the
    /// connection. False when it could not be armed: the owner then wakes it as timed out.
    ///
    /// A descriptor stays in the epoll set after its wait, disarmed (one-shot), until it is
    /// closed, which takes it out: the next wait on it (a kept-alive connection to the app, the
    /// next request) arms it again with one call instead of an add and a remove per request.
    func parkWaiting(in epoll: Epoll, token: UInt64) -> Bool {
        guard case .waiting(_, let wait) = state else { preconditionFailure("a wait parked in state \(state)") }
        return custody.withLock { c in
            c.holder = .epoll
            c.parkedIdle = false
            c.waiting = true
            do {
                do {
                    try epoll.rearm(wait.descriptor, events: Epoll.readable | Epoll.oneShot, token: token)
                } catch let error as IOError where error.errno == ENOENT {
                    try epoll.add(wait.descriptor, events: Epoll.readable | Epoll.oneShot, token: token)
                }
                return true
            } catch {
                c.holder = .owner
                c.waiting = false
                return false
            }
        }
    }

    /// Takes a parked connection whose bytes arrived (`forWait`: whose handler's descriptor is
    /// readable). False when someone else holds it, or it waits for the other kind of event (a
    /// late event of a wait the monitor already ended).
    func claim(forWait: Bool = false) -> Bool {
        custody.withLock { c in
            guard c.holder == .epoll, c.waiting == forWait else { return false }
            c.holder = .owner
            return true
        }
    }

    /// Ends the wait of a connection just claimed. Its descriptor's event disarmed it (it stays
    /// in the set for the next wait, `parkWaiting`); a wait ended otherwise (`fired` false: the
    /// monitor's timeout) leaves it armed, so it is taken out of the set.
    func stopWaiting(in epoll: Epoll, fired: Bool) {
        guard case .waiting(_, let wait) = state else { return }
        if !fired { epoll.remove(wait.descriptor) }
        custody.withLock { $0.waiting = false }
    }

    /// Takes a parked connection whose deadline has passed, or, at shutdown, one waiting idle.
    func claimIfExpired(now: Int, shuttingDown: Bool) -> Bool {
        custody.withLock { c in
            guard c.holder == .epoll, deadline.load(ordering: .relaxed) <= now || (shuttingDown && c.parkedIdle) else { return false }
            c.holder = .owner
            return true
        }
    }

    func close() {
        // A TLS client is told the session ends (close_notify), as nginx tells it; a plain one
        // sees the TCP close.
        if transport.isEncrypted { transport.shutdownWrite() }
        Glibc.close(fd)
    }

    /// Takes a detached connection's socket out of the pool's epoll set, leaving it open.
    func forget(in epoll: Epoll) {
        let registered = custody.withLock { $0.registered }
        if registered { epoll.remove(fd) }
    }

    var isShuttingDown: Bool { context.shutdown.isRaised }
    var isEncrypted: Bool { transport.isEncrypted }
    var tlsSession: TLSSession? { transport.session }
    var limits: HTTPLimits { options.limits }

    // MARK: serving

    /// Serves every complete request the client has sent, as far as it can without waiting for
    /// the client; says whether to park the connection for more bytes or to close it.
    func resume(scratch: UnsafeMutableRawBufferPointer, spare: UnsafeMutableRawBufferPointer) -> Step {
        lend(scratch, spare)
        defer { lend(UnsafeMutableRawBufferPointer(start: nil, count: 0), UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
        do {
            // A TLS client's handshake comes first, as far as its bytes allow; it has the header
            // timeout of a connection that has sent nothing yet.
            if transport.handshaking {
                let step = try transport.continueHandshake()
                parksForWrite = step == .waitingToWrite
                switch step {
                case .established: break
                case .waiting, .waitingToWrite: return .park
                case .validated: return .close
                }
            }
            try readAvailable()
            if case .draining = state {
                input.bytes.removeAll(keepingCapacity: true)
                return input.ended ? .close : .park
            }
            return try serveBuffered()
        } catch {
            // A broken connection concerns only this client; nothing else is affected.
            return .close
        }
    }

    /// Writes the response a suspended request was waiting for, then goes on as `resume` does;
    /// or, for a wait the monitor ended (`Step.wakeOnWorker`), runs its continuation.
    func finishDeferred(scratch: UnsafeMutableRawBufferPointer, spare: UnsafeMutableRawBufferPointer) -> Step {
        if case .waiting = state { return wake(.timedOut, scratch: scratch, spare: spare) }
        lend(scratch, spare)
        defer { lend(UnsafeMutableRawBufferPointer(start: nil, count: 0), UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
        guard case .awaitingResponse(let waiting) = state, let make = waiting.deferred.take() else { return .close }
        let response = dispatcher.respond(to: waiting.request, deferred: make)
        do {
            guard try write(response, for: waiting.head) else { return .close }
            finishRequest()
            return try serveBuffered()
        } catch {
            return .close
        }
    }

    /// Runs the continuation of the wait the connection is parked on (its descriptor already out
    /// of the epoll set: `stopWaiting`), then goes on as `resume` does once the request is done.
    func wake(_ why: Exchange.Wake, scratch: UnsafeMutableRawBufferPointer, spare: UnsafeMutableRawBufferPointer) -> Step {
        // A stale event that claimed a connection no longer waiting: nothing to run.
        guard case .waiting(let exchange, let wait) = state else { return .park }
        lend(scratch, spare)
        defer { lend(UnsafeMutableRawBufferPointer(start: nil, count: 0), UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
        state = .readingHead
        exchange.buffer = spare
        do {
            guard let step = after(wait.then(why), of: exchange) else {
                finishRequest()
                return try serveBuffered()
            }
            return step
        } catch {
            return .close
        }
    }

    /// What follows a taken-over exchange's outcome: nil when the client may send its next request.
    private func after(_ outcome: Exchange.Outcome, of exchange: Exchange) -> Step? {
        switch outcome.kind {
        case .carryOn: return nil
        case .close: return .close
        case .draining: return .park
        case .detached: return .detach
        case .waiting(let wait):
            state = .waiting(exchange, wait)
            deadline.store(monotonicMilliseconds() + wait.timeoutMilliseconds, ordering: .relaxed)
            return .wait
        }
    }

    private func lend(_ scratch: UnsafeMutableRawBufferPointer, _ spare: UnsafeMutableRawBufferPointer) {
        self.scratch = scratch
        self.spare = spare
    }

    /// Serves the complete requests in the buffer, in order.
    private func serveBuffered() throws -> Step {
        while true {
            if input.bytes.isEmpty {
                if try readBufferedTLS() { continue }
                return input.ended ? .close : .park
            }
            if case .idle = state { beginHead() }
            switch RequestHeadParser.scan(input.bytes[...], limits: options.limits) {
            case .incomplete:
                if try readBufferedTLS() { continue }
                return input.ended ? .close : .park
            case .failed(let error):
                try sendError(error, path: RequestHeadParser.peekPath(input.bytes[...]))
                return .park
            case .complete(let headLength):
                if let step = try serve(headLength: headLength) { return step }
                finishRequest()
            }
        }
    }

    /// The deadline of a parked connection has passed (or the server is shutting down and it is
    /// idle): an idle client is dropped quietly, as nginx and Go do; a head that never finished
    /// gets a 408, then a short drain.
    func expire() -> Step {
        switch state {
        case .idle, .draining, .awaitingResponse:
            return .close
        case .waiting:
            return .wakeOnWorker
        case .readingHead:
            let path = RequestHeadParser.peekPath(input.bytes[...])
            var response = dispatcher.errorResponse(HTTPError.framing(408, "request headers not received in time"), path: path ?? "")
            response.headers.set("Connection", "close")
            // One attempt that cannot block: the monitor that calls this serves no one else meanwhile.
            let bytes = ResponseEncoder.encode(response, for: nil, keepAlive: false, date: HTTPDate.now()).bytes
            // The socket is non-blocking: one send, whatever it takes.
            _ = bytes.withUnsafeBytes { try? transport.send($0) }
            startDraining()
            return .park
        }
    }

    /// Reads whatever the client has sent, without waiting.
    private func readAvailable() throws {
        while !input.ended {
            switch try receive() {
            case .bytes(let n):
                // A short read means the socket is empty: no second recv just to hear EAGAIN.
                // Not so over TLS, where one read returns at most one record.
                if n < scratch.count && !transport.isEncrypted { return }
            case .end:
                input.ended = true
            case .wouldBlock:
                return
            }
        }
    }

    /// Reads what the TLS layer holds already (the socket may have nothing more, so the epoll
    /// set would never say so); true when it gave bytes.
    private func readBufferedTLS() throws -> Bool {
        guard transport.hasBufferedInput, !input.ended else { return false }
        let before = input.bytes.count
        try readAvailable()
        return input.bytes.count > before
    }

    /// One read into the buffer, through the worker's scratch.
    private func receive() throws -> Received {
        switch try transport.receive(into: scratch) {
        case .bytes(let n):
            input.bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
            return .bytes(n)
        case .end:
            return .end
        case .wouldBlock(let events):
            return .wouldBlock(events: events)
        }
    }

    /// Serves the request whose head is the first `headLength` bytes of the buffer. nil when the
    /// response went out and the connection may carry on; otherwise what the owner does next.
    private func serve(headLength: Int) throws -> Step? {
        let head: RequestHead
        let framing: BodyFraming
        do {
            head = try RequestHeadParser.parse(input.bytes[0..<headLength])
            framing = try BodyFraming.of(head)
        } catch {
            try sendError(error, path: RequestHeadParser.peekPath(input.bytes[...]))
            return .park
        }
        input.bytes.removeFirst(headLength)

        switch dispatcher.dispose(of: head, remoteAddress: remoteAddress) {
        case .refuse(let refusal):
            // Refused on its head alone (an unknown app, a missing header): the body is never read.
            try sendResponseAndClose(refusal)
            return .park
        case .buffer(let bodyLimit, let handler):
            return try serveBuffered(head, framing, bodyLimit: bodyLimit, handler: handler)
        case .takeOver(let handler):
            guard try expectationIsMet(head) else { return .park }
            let exchange = Exchange(connection: self, head: head, framing: framing, remoteAddress: remoteAddress, buffer: spare)
            return after(handler(exchange), of: exchange)
        }
    }

    /// Refuses an expectation other than 100-continue (417); false when it did.
    private func expectationIsMet(_ head: RequestHead) throws -> Bool {
        guard let expect = head.headers["Expect"], !expect.caseInsensitiveEquals("100-continue") else { return true }
        try sendError(HTTPError.framing(417, "unsupported expectation"), path: head.path)
        return false
    }

    /// Reads the whole body, then answers with the handler's response (or sets the connection
    /// aside until a deferred one is ready).
    private func serveBuffered(_ head: RequestHead, _ framing: BodyFraming, bodyLimit: Int,
                               handler: (HTTPRequest) -> HTTPResponse) throws -> Step? {
        guard try expectationIsMet(head) else { return .park }
        // The limit is decided from Content-Length before a byte of the body is read.
        if case .contentLength(let n) = framing, n > bodyLimit {
            try sendError(HTTPError.framing(413, "request body too large (limit \(bodyLimit) bytes)"), path: head.path)
            return .park
        }
        if framing != .none { try sendContinueIfExpected(head) }

        let body: [UInt8]
        var reserved = 0
        // The body's memory goes back once the handler has answered (a deferred answer keeps no body).
        defer { context.bodies.release(reserved) }
        do {
            body = try readBody(framing, limit: bodyLimit, reserved: &reserved)
        } catch let error as HTTPError {
            try sendError(error, path: head.path)
            return .park
        }

        let request = HTTPRequest(head: head, body: body, remoteAddress: remoteAddress)
        let response = handler(request)
        if case .deferred(let deferred) = response.body {
            var waiting = request
            waiting.body = []
            suspend(Suspended(head: head, request: waiting, deferred: deferred))
            return .suspend(deferred)
        }
        return try write(response, for: head) ? nil : .close
    }

    /// Tells a client that waits for it (`Expect: 100-continue`) to send its body, unless it
    /// has started sending already.
    func sendContinueIfExpected(_ head: RequestHead) throws {
        if head.headers["Expect"] != nil, input.bytes.isEmpty {
            try writeAll(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        }
    }

    /// Reads the body, first reserving its memory in the server's budget (`reserved` says how
    /// much is held, for the caller to give back): all of a Content-Length at once, a chunked
    /// body as it grows.
    private func readBody(_ framing: BodyFraming, limit: Int, reserved: inout Int) throws -> [UInt8] {
        func reserve(upTo bytes: Int) throws {
            guard bytes > reserved else { return }
            // Chunked bodies reserve in steps, so a growing body does not ask at every read.
            let wanted = framing == .chunked ? min(max(bytes, reserved * 2, 64 * 1024), max(bytes, limit)) : bytes
            guard context.bodies.reserve(wanted - reserved) else {
                throw HTTPError(503, "the server is receiving too many request bodies; try again shortly", closesConnection: true,
                                headers: [("Retry-After", "1")])
            }
            reserved = wanted
        }
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
            try reserve(upTo: length)
            while input.bytes.count < length { try more() }
            let body = Array(input.bytes[0..<length])
            input.bytes.removeFirst(length)
            return body
        case .chunked:
            var decoder = ChunkedDecoder(limits: options.limits, bodyLimit: limit)
            var index = 0
            while true {
                let done = try decoder.feed(input.bytes, index: &index)
                input.bytes.removeFirst(index)
                index = 0
                if done { return decoder.body }
                try reserve(upTo: decoder.body.count + input.bytes.count + ConnectionPool.readBufferSize)
                try more()
            }
        }
    }

    // MARK: streaming a body (for an `Exchange`)

    /// At most `remaining` bytes of a Content-Length body: what is buffered first, then one read
    /// straight into the worker's buffer, so a body of any size passes through one buffer.
    func bodyBytes(upTo remaining: Int) throws -> UnsafeRawBufferPointer {
        let wanted = min(remaining, scratch.count)
        if !input.bytes.isEmpty {
            let count = min(wanted, input.bytes.count)
            input.bytes.withUnsafeBytes { scratch.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: count) }
            input.bytes.removeFirst(count)
            return UnsafeRawBufferPointer(rebasing: scratch[0..<count])
        }
        // Streamed bodies have no total timeout, as nginx's have none: a large upload on a slow
        // link takes as long as it takes, as long as it keeps moving.
        let deadline = monotonicMilliseconds() + options.bodyTimeoutMilliseconds
        while true {
            switch try transport.receive(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<wanted])) {
            case .bytes(let n):
                return UnsafeRawBufferPointer(rebasing: scratch[0..<n])
            case .end:
                throw IOError(function: "recv", errno: ECONNRESET)
            case .wouldBlock(let events):
                let left = deadline - monotonicMilliseconds()
                guard left > 0, try Socket.wait(fd, events: events, timeoutMilliseconds: left) == .ready else {
                    throw HTTPError.framing(408, "request body not received in time")
                }
            }
        }
    }

    /// The next piece of a chunked body (copied into the worker's buffer), or nil at its end.
    func chunkedBodyBytes(_ decoder: inout ChunkedDecoder) throws -> UnsafeRawBufferPointer? {
        while true {
            var index = 0
            let piece = try decoder.next(input.bytes, index: &index, maxData: scratch.count)
            switch piece {
            case .data(let range):
                input.bytes.withUnsafeBytes { scratch.baseAddress!.copyMemory(from: $0.baseAddress! + range.lowerBound, byteCount: range.count) }
                input.bytes.removeFirst(index)
                return UnsafeRawBufferPointer(rebasing: scratch[0..<range.count])
            case .end:
                input.bytes.removeFirst(index)
                return nil
            case .needMore:
                input.bytes.removeFirst(index)
                switch try readMore(deadline: monotonicMilliseconds() + options.bodyTimeoutMilliseconds) {
                case .data: continue
                case .eof: throw IOError(function: "recv", errno: ECONNRESET)
                case .timeout: throw HTTPError.framing(408, "request body not received in time")
                }
            }
        }
    }

    /// What the client sent that no request has consumed yet, taken out of the connection.
    func takeBufferedInput() -> [UInt8] {
        defer { input.bytes = [] }
        return input.bytes
    }

    func errorResponse(_ error: any HTTPResponseError, path: String) -> HTTPResponse {
        dispatcher.errorResponse(error, path: path)
    }

    // MARK: reading

    /// Waits for more of a body, blocking this worker: a request being received is served to
    /// its end by one worker, within the body timeouts.
    private func readMore(deadline: Int) throws -> ReadResult {
        while true {
            switch try receive() {
            case .bytes: return .data
            case .end: return .eof
            case .wouldBlock(let events):
                let remaining = deadline - monotonicMilliseconds()
                if remaining <= 0 { return .timeout }
                if try Socket.wait(fd, events: events, timeoutMilliseconds: remaining) == .timeout { return .timeout }
            }
        }
    }

    // MARK: writing

    /// Answers a request that cannot be served, then lets the client read the answer before
    /// the close (`startDraining`). `path` chooses the error's shape; nil when no request
    /// target was read.
    private func sendError(_ error: Error, path: String?) throws {
        let httpError = (error as? HTTPError) ?? HTTPError.framing(400, "bad request")
        try sendResponseAndClose(dispatcher.errorResponse(httpError, path: path ?? ""))
    }

    /// Writes an answer after which the connection cannot go on (its request's body, if any,
    /// was not read), then drains and closes.
    func sendResponseAndClose(_ response: HTTPResponse) throws {
        var response = response
        response.headers.set("Connection", "close")
        _ = try write(response, for: nil)
        startDraining()
    }

    /// Writes a response; returns whether the connection may serve another request.
    func write(_ response: HTTPResponse, for head: RequestHead?) throws -> Bool {
        let keepAlive = (head?.wantsKeepAlive ?? false) && !context.shutdown.isRaised && response.headers["Connection"] == nil
        let encoded = ResponseEncoder.encode(response, for: head.map(ResponseEncoder.Request.init), keepAlive: keepAlive,
                                             date: HTTPDate.now())
        try writeAll(encoded.bytes)
        if let stream = encoded.stream {
            let writer = ConnectionBodyWriter(connection: self, chunked: encoded.chunked)
            do {
                try stream(writer)
            } catch {
                return false
            }
            if encoded.chunked { try writeAll(ResponseEncoder.lastChunk) }
        }
        return encoded.keepAlive
    }

    fileprivate func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll($0) }
    }

    func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        var deadline = monotonicMilliseconds() + options.writeTimeoutMilliseconds
        while offset < bytes.count {
            switch try transport.send(UnsafeRawBufferPointer(start: base + offset, count: bytes.count - offset)) {
            case .sent(let n):
                offset += n
                bytesWritten += n
                deadline = monotonicMilliseconds() + options.writeTimeoutMilliseconds
            case .wouldBlock(let events):
                let remaining = deadline - monotonicMilliseconds()
                guard remaining > 0, try Socket.wait(fd, events: events, timeoutMilliseconds: remaining) == .ready else {
                    throw IOError(function: "send", errno: ETIMEDOUT)
                }
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
        try connection.writeAll(chunked ? ResponseEncoder.chunk(bytes) : bytes)
    }
}
