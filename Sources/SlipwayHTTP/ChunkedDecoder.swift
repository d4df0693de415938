/// Decodes a chunked body incrementally (RFC 9112 section 7.1): a request's, or, through the
/// HTTP edge, an upstream's response.
///
/// Two ways to use it: `feed` collects the whole body (the dashboard's handlers get it whole);
/// `next` hands out each piece of data where it lies in the caller's buffer, so the edge streams
/// a body of any size through a buffer of one read.
public struct ChunkedDecoder {
    private enum State: Equatable {
        case size
        case data(remaining: Int)
        case dataEnd
        case trailers(bytes: Int)
        case done
    }

    /// What `next` found in the buffer.
    public enum Piece: Equatable {
        /// Body bytes at these indices of the buffer (already stepped over).
        case data(Range<Int>)
        /// The buffer holds nothing more to decode: read more, and call again.
        case needMore
        /// The last chunk and the trailers have been read; what follows belongs to the next message.
        case end
    }

    private var state = State.size
    public let limits: HTTPLimits
    public let bodyLimit: Int
    /// The body so far, collected by `feed` only.
    public private(set) var body = [UInt8]()
    /// Body bytes announced by the chunk sizes so far, checked against `bodyLimit`.
    public private(set) var declared = 0

    public init(limits: HTTPLimits, bodyLimit: Int) {
        self.limits = limits
        self.bodyLimit = bodyLimit
    }

    public var isDone: Bool { state == .done }

    /// Consumes what it can from `buffer[index...]`, collecting the data in `body` and advancing
    /// `index`. Returns true when the body is complete.
    public mutating func feed(_ buffer: [UInt8], index: inout Int) throws(HTTPError) -> Bool {
        while true {
            switch try next(buffer, index: &index) {
            case .data(let range): body.append(contentsOf: buffer[range])
            case .needMore: return false
            case .end: return true
            }
        }
    }

    /// Decodes up to the next piece of data in `buffer[index...]`, at most `maxData` bytes of it,
    /// and advances `index` past what it consumed.
    public mutating func next(_ buffer: [UInt8], index: inout Int, maxData: Int = .max) throws(HTTPError) -> Piece {
        while true {
            switch state {
            case .done:
                return .end
            case .size:
                guard let lf = firstLF(buffer, from: index) else {
                    if buffer.count - index > limits.maxChunkLine { throw .framing(400, "chunk size line too long") }
                    return .needMore
                }
                if lf - index > limits.maxChunkLine { throw .framing(400, "chunk size line too long") }
                var line = buffer[index..<lf]
                guard line.last == 0x0d else { throw .framing(400, "malformed chunk size line") }
                line = line.dropLast()
                // Extensions after ';' are allowed and ignored.
                let sizePart = line.split(separator: UInt8(ascii: ";"), maxSplits: 1, omittingEmptySubsequences: false)[0]
                var digits = sizePart[...]
                while let l = digits.last, l == 0x20 || l == 0x09 { digits = digits.dropLast() }
                guard !digits.isEmpty, digits.count <= 8, let size = Int(String(decoding: digits, as: UTF8.self), radix: 16),
                      digits.allSatisfy({ isHex($0) }) else {
                    throw .framing(400, "invalid chunk size")
                }
                index = lf + 1
                if size == 0 {
                    state = .trailers(bytes: 0)
                } else {
                    guard declared + size <= bodyLimit else { throw .framing(413, "request body too large") }
                    declared += size
                    state = .data(remaining: size)
                }
            case .data(let remaining):
                let available = buffer.count - index
                if available == 0 { return .needMore }
                let take = min(available, remaining, max(1, maxData))
                let range = index..<index + take
                index += take
                state = take == remaining ? .dataEnd : .data(remaining: remaining - take)
                return .data(range)
            case .dataEnd:
                guard buffer.count - index >= 2 else { return .needMore }
                guard buffer[index] == 0x0d, buffer[index + 1] == 0x0a else { throw .framing(400, "missing CRLF after chunk data") }
                index += 2
                state = .size
            case .trailers(let bytes):
                guard let lf = firstLF(buffer, from: index) else {
                    if bytes + buffer.count - index > limits.maxTrailerBytes { throw .framing(431, "request trailers too large") }
                    return .needMore
                }
                let lineLength = lf + 1 - index
                let isEnd = lineLength == 2 && buffer[index] == 0x0d
                index = lf + 1
                if isEnd {
                    state = .done
                } else {
                    guard lineLength >= 2, buffer[lf - 1] == 0x0d else { throw .framing(400, "malformed trailer") }
                    if bytes + lineLength > limits.maxTrailerBytes { throw .framing(431, "request trailers too large") }
                    state = .trailers(bytes: bytes + lineLength)
                }
            }
        }
    }

    private func firstLF(_ buffer: [UInt8], from: Int) -> Int? {
        var i = from
        while i < buffer.count {
            if buffer[i] == 0x0a { return i }
            i += 1
        }
        return nil
    }

    private func isHex(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)
    }
}
