import Glibc
import Pipeline

/// One client connection, served on its own thread from accept to close. Requests on it are
/// handled strictly in order, which is what makes pipelining answer in order.
final class HTTPConnection {
    private enum ReadResult { case data, eof, timeout, woken }

    private let fd: Int32
    private let remoteAddress: String
    private let options: ServerOptions
    private let responder: Responder
    private let server: HTTPServer
    private var buffer = [UInt8]()
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)

    init(fd: Int32, remoteAddress: String, server: HTTPServer) {
        self.fd = fd
        self.remoteAddress = remoteAddress
        self.options = server.options
        self.responder = server.responder
        self.server = server
    }

    func run() {
        defer { close(fd) }
        do {
            var isFirst = true
            while try serveOne(isFirst: isFirst) { isFirst = false }
        } catch {
            // A broken connection concerns only this client; nothing else is affected.
        }
    }

    /// Serves one request. Returns whether the connection stays open for another.
    private func serveOne(isFirst: Bool) throws -> Bool {
        if buffer.isEmpty {
            // Between requests an idle client is dropped quietly, as nginx and Go do; so is one
            // that connects and sends nothing. Shutdown also ends the wait.
            let wait = isFirst ? options.headerTimeoutMilliseconds : options.idleTimeoutMilliseconds
            switch try readMore(deadline: monotonicMilliseconds() + wait, wakeOnShutdown: true) {
            case .data: break
            case .eof, .timeout, .woken: return false
            }
        }
        let headerDeadline = monotonicMilliseconds() + options.headerTimeoutMilliseconds
        var headLength = 0
        scan: while true {
            switch RequestHeadParser.scan(buffer[...], limits: options.limits) {
            case .complete(let consumed):
                headLength = consumed
                break scan
            case .failed(let error):
                try sendError(error, path: "")
                return false
            case .incomplete:
                switch try readMore(deadline: headerDeadline, wakeOnShutdown: false) {
                case .data: continue
                case .eof, .woken: return false
                case .timeout:
                    try sendError(HTTPError.framing(408, "request headers not received in time"), path: "")
                    return false
                }
            }
        }

        let head: RequestHead
        let framing: BodyFraming
        do {
            head = try RequestHeadParser.parse(buffer[0..<headLength])
            framing = try BodyFraming.of(head)
        } catch {
            try sendError(error, path: "")
            return false
        }
        buffer.removeFirst(headLength)
        let errorPath = head.path

        let resolution = responder.router.resolve(method: head.method, path: head.path)
        let bodyLimit = responder.bodyLimit(for: resolution)

        if let expect = head.headers["Expect"] {
            guard expect.caseInsensitiveEquals("100-continue") else {
                try sendError(HTTPError.framing(417, "unsupported expectation"), path: errorPath)
                return false
            }
        }
        // The limit is decided from Content-Length before a byte of the body is read.
        if case .contentLength(let n) = framing, n > bodyLimit {
            try sendError(HTTPError.framing(413, "request body too large (limit \(bodyLimit) bytes)"), path: errorPath)
            return false
        }
        if framing != .none, head.headers["Expect"] != nil, buffer.isEmpty {
            try writeAll(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        }

        let body: [UInt8]
        do {
            body = try readBody(framing, limit: bodyLimit)
        } catch let error as HTTPError {
            try sendError(error, path: errorPath)
            return false
        }

        let request = HTTPRequest(head: head, body: body, remoteAddress: remoteAddress)
        let response = responder.respond(to: request, resolution: resolution)
        let keepAlive = head.wantsKeepAlive && !server.isShuttingDown && response.headers["Connection"] == nil
        return try write(response, for: head, keepAlive: keepAlive)
    }

    private func readBody(_ framing: BodyFraming, limit: Int) throws -> [UInt8] {
        let totalDeadline = monotonicMilliseconds() + options.bodyTotalTimeoutMilliseconds
        func more() throws {
            let deadline = min(totalDeadline, monotonicMilliseconds() + options.bodyTimeoutMilliseconds)
            switch try readMore(deadline: deadline, wakeOnShutdown: false) {
            case .data: return
            case .eof, .woken: throw IOError(function: "recv", errno: ECONNRESET)
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

    private func readMore(deadline: Int, wakeOnShutdown: Bool) throws -> ReadResult {
        while true {
            let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: scratch[0..<n])
                return .data
            }
            if n == 0 { return .eof }
            let code = errno
            if code == EINTR { continue }
            guard code == EAGAIN || code == EWOULDBLOCK else { throw IOError(function: "recv", errno: code) }
            let remaining = deadline - monotonicMilliseconds()
            if remaining <= 0 { return .timeout }
            switch try Socket.wait(fd, events: Int16(POLLIN), timeoutMilliseconds: remaining,
                                   wakeFD: wakeOnShutdown ? server.wakeFD : nil) {
            case .ready: continue
            case .timeout: return .timeout
            case .woken: return .woken
            }
        }
    }

    // MARK: writing

    private func sendError(_ error: Error, path: String) throws {
        let httpError = (error as? HTTPError) ?? HTTPError.framing(400, "bad request")
        var response = HTTPResponse.error(httpError, path: path)
        response.headers.set("Connection", "close")
        _ = try write(response, for: nil, keepAlive: false)
        // Let the client read the answer before the close: shut our side, then drain briefly so
        // the kernel does not turn unread request bytes into a reset that destroys the response.
        shutdown(fd, Int32(SHUT_WR))
        let deadline = monotonicMilliseconds() + 500
        while monotonicMilliseconds() < deadline {
            guard case .data = try readMore(deadline: deadline, wakeOnShutdown: false) else { break }
            buffer.removeAll(keepingCapacity: true)
        }
    }

    /// Writes a response; returns whether the connection may serve another request.
    private func write(_ response: HTTPResponse, for head: RequestHead?, keepAlive: Bool) throws -> Bool {
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
        try writeAll(bytes)

        if let stream, !isHead {
            let writer = ConnectionBodyWriter(connection: self, chunked: !isHTTP10)
            do {
                try stream(writer)
            } catch {
                return false
            }
            if !isHTTP10 { try writeAll(Array("0\r\n\r\n".utf8)) }
        }
        return keepAlive
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
/// @unchecked Sendable is safe because a writer is used only on the connection's own thread,
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
