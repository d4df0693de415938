// libFuzzer entry point for the request parser, the chunked decoder and the JSON parser that
// reads webhook payloads. Built by `make fuzz` with swiftc -sanitize=fuzzer from the same source
// files the server uses (see the Makefile), not from copies.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limits = HTTPLimits()
    switch RequestHeadParser.scan(bytes[...], limits: limits) {
    case .incomplete:
        break
    case .failed(let error):
        precondition((400...599).contains(error.status), "a refusal is always an error status")
    case .complete(let consumed):
        do {
            let head = try RequestHeadParser.parse(bytes[0..<consumed])
            if try BodyFraming.of(head) == .chunked {
                var decoder = ChunkedDecoder(limits: limits, bodyLimit: 1 << 20)
                var index = consumed
                _ = try decoder.feed(bytes, index: &index)
                precondition(index <= bytes.count)
            }
        } catch {
            precondition((400...599).contains(error.status))
        }
    }
    _ = try? JSONParser.parse(bytes)
    return 0
}
