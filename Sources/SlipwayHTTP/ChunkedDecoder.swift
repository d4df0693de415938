/// Decodes a chunked request body incrementally (RFC 9112 section 7.1).
public struct ChunkedDecoder {
    private enum State: Equatable {
        case size
        case data(remaining: Int)
        case dataEnd
        case trailers(bytes: Int)
        case done
    }

    private var state = State.size
    public let limits: HTTPLimits
    public let bodyLimit: Int
    public private(set) var body = [UInt8]()

    public init(limits: HTTPLimits, bodyLimit: Int) {
        self.limits = limits
        self.bodyLimit = bodyLimit
    }

    public var isDone: Bool { state == .done }

    /// Consumes what it can from `buffer[index...]`, advancing `index`. Returns true when the body is complete.
    public mutating func feed(_ buffer: [UInt8], index: inout Int) throws(HTTPError) -> Bool {
        while true {
            switch state {
            case .done:
                return true
            case .size:
                guard let lf = firstLF(buffer, from: index) else {
                    if buffer.count - index > limits.maxChunkLine { throw .framing(400, "chunk size line too long") }
                    return false
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
                    guard body.count + size <= bodyLimit else { throw .framing(413, "request body too large") }
                    state = .data(remaining: size)
                }
            case .data(let remaining):
                let available = buffer.count - index
                if available == 0 { return false }
                let take = min(available, remaining)
                body.append(contentsOf: buffer[index..<index + take])
                index += take
                state = take == remaining ? .dataEnd : .data(remaining: remaining - take)
            case .dataEnd:
                guard buffer.count - index >= 2 else { return false }
                guard buffer[index] == 0x0d, buffer[index + 1] == 0x0a else { throw .framing(400, "missing CRLF after chunk data") }
                index += 2
                state = .size
            case .trailers(let bytes):
                guard let lf = firstLF(buffer, from: index) else {
                    if bytes + buffer.count - index > limits.maxTrailerBytes { throw .framing(431, "request trailers too large") }
                    return false
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
