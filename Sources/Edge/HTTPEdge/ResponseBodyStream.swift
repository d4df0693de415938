import SlipwayHTTP
import SlipwayServer

/// Copies an app's answer body to the client as it arrives, one read at a time through the
/// worker's buffer: as is when its length is known, else re-framed as chunks (for an HTTP/1.1
/// client) or left to end with the close (for an HTTP/1.0 one). A chunked body is decoded and
/// framed again rather than passed through, so the client never sees framing the edge did not
/// check; trailers are dropped.
struct ResponseBodyStream {
    let exchange: Exchange
    let connection: UpstreamConnection
    let chunkedToClient: Bool
    let readTimeoutMilliseconds: Int
    /// One chunk's framing and data, gathered for one write.
    private var out: [UInt8] = []

    /// How a copy ended. Which side broke matters to the access log: only the app's failure
    /// counts as an upstream error.
    enum End {
        case complete
        /// The app closed early, went silent, or sent framing that does not parse.
        case upstreamBroke
        /// The client went away or stopped reading.
        case clientGone
    }

    /// A write to the client failed; kept apart from the app's errors.
    private struct ClientGone: Error {}

    init(exchange: Exchange, connection: UpstreamConnection, chunkedToClient: Bool, readTimeoutMilliseconds: Int) {
        self.exchange = exchange
        self.connection = connection
        self.chunkedToClient = chunkedToClient
        self.readTimeoutMilliseconds = readTimeoutMilliseconds
    }

    /// Anything but `.complete` means the body broke off: the client's connection must then close,
    /// so it sees the answer is incomplete.
    mutating func copy(_ framing: ResponseFraming) -> End {
        do {
            let whole: Bool
            switch framing {
            case .none: whole = true
            case .contentLength(let length): whole = try copyRaw(upTo: length)
            case .untilClose: whole = try copyRaw(upTo: nil)
            case .chunked: whole = try copyChunked()
            }
            return whole ? .complete : .upstreamBroke
        } catch is ClientGone {
            return .clientGone
        } catch {
            return .upstreamBroke
        }
    }

    /// `length` bytes, or everything up to the app's close when nil.
    private mutating func copyRaw(upTo length: Int?) throws -> Bool {
        var remaining = length ?? Int.max
        if connection.buffered > 0 {
            let take = min(remaining, connection.buffered)
            let start = connection.consumed
            try connection.input.withUnsafeBytes { raw in
                try write(UnsafeRawBufferPointer(rebasing: raw[start..<start + take]))
            }
            connection.consumed += take
            remaining -= take
        }
        let buffer = exchange.buffer
        while remaining > 0 {
            let n = try connection.receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(remaining, buffer.count)]),
                                           timeoutMilliseconds: readTimeoutMilliseconds)
            if n == 0 { break }
            try write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            remaining -= n
        }
        if length != nil && remaining > 0 { return false }
        if chunkedToClient { try toClient(ResponseEncoder.lastChunk) }
        return true
    }

    private mutating func copyChunked() throws -> Bool {
        var decoder = ChunkedDecoder(limits: HTTPLimits(), bodyLimit: Int.max)
        while true {
            var index = connection.consumed
            let piece = try decoder.next(connection.input, index: &index, maxData: exchange.buffer.count)
            connection.consumed = index
            switch piece {
            case .data(let range):
                try connection.input.withUnsafeBytes { raw in try write(UnsafeRawBufferPointer(rebasing: raw[range])) }
            case .end:
                if chunkedToClient { try toClient(ResponseEncoder.lastChunk) }
                return true
            case .needMore:
                guard try connection.receiveMore(through: exchange.buffer, timeoutMilliseconds: readTimeoutMilliseconds) else { return false }
            }
        }
    }

    /// One piece to the client, as a chunk when the client gets chunks.
    private mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        guard chunkedToClient else {
            do { return try exchange.write(bytes) } catch { throw ClientGone() }
        }
        out.removeAll(keepingCapacity: true)
        out.append(contentsOf: (String(bytes.count, radix: 16) + "\r\n").utf8)
        out.append(contentsOf: bytes)
        out.append(contentsOf: [0x0d, 0x0a])
        try toClient(out)
    }

    private func toClient(_ bytes: [UInt8]) throws(ClientGone) {
        do { try exchange.write(bytes) } catch { throw ClientGone() }
    }
}
