import Glibc

/// The number formats Slipway used `String(format:)` for, which FoundationEssentials lacks.
extension String {
    /// printf's "%0<width>d": at least `width` characters, the sign included, zero-filled after it.
    public init(_ value: Int, zeroPaddedTo width: Int) {
        let digits = String(value.magnitude)
        let sign = value < 0 ? "-" : ""
        self = sign + String(repeating: "0", count: Swift.max(0, width - sign.count - digits.count)) + digits
    }

    /// printf's "%.<digits>f", from the C library itself, as Foundation's `String(format:)` did:
    /// its rounding of binary fractions (1.05 → "1.1", 1.25 → "1.2") is not worth re-deriving.
    public init(_ value: Double, fractionDigits: Int) {
        let format = "%.\(fractionDigits)f"
        let length = withVaList([value]) { vsnprintf(nil, 0, format, $0) }
        guard length > 0 else {
            self = ""
            return
        }
        var buffer = [CChar](repeating: 0, count: Int(length) + 1)
        _ = buffer.withUnsafeMutableBufferPointer { out in
            withVaList([value]) { vsnprintf(out.baseAddress, out.count, format, $0) }
        }
        self = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
