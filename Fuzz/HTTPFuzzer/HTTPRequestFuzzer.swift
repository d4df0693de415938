import SlipwayHTTP
import SlipwaySystem

// libFuzzer's entry point for the request parser, the chunked decoder and the JSON parser that
// reads webhook payloads, over the server's own targets (SlipwayHTTP, SlipwaySystem).
// `make fuzz` builds it with `swift build --sanitize fuzzer -Xswiftc -DFUZZING`, where libFuzzer
// brings `main`; any other build gets `Replay` below instead.

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
    _ = RequestHeadParser.peekPath(bytes[...])
    _ = try? JSONParser.parse(bytes)
    return 0
}

#if !FUZZING
/// Without libFuzzer: runs the files named on the command line (a crash reproducer, or the
/// corpus) through the same entry point, so a finding can be replayed in an ordinary build.
@main
enum Replay {
    static func main() {
        var count = 0
        for path in CommandLine.arguments.dropFirst() {
            guard let bytes = PosixFile.read(path) else {
                Log.error("cannot read \(path)")
                continue
            }
            _ = bytes.withUnsafeBufferPointer { buffer in
                fuzzOneInput(buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!, buffer.count)
            }
            count += 1
        }
        print("replayed \(count) inputs")
    }
}
#endif
