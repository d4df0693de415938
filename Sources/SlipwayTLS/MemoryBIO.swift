import CTLS

/// OpenSSL's in-memory I/O object, for reading PEM from bytes and writing it back out.
struct MemoryBIO: ~Copyable {
    let pointer: OpaquePointer

    /// A BIO to read `bytes` from. The bytes are copied, so the BIO does not borrow them.
    init(reading bytes: [UInt8]) throws(TLSError) {
        guard let bio = BIO_new(BIO_s_mem()) else { throw TLSError.fromQueue("BIO_new") }
        let written = bytes.withUnsafeBytes { BIO_write(bio, $0.baseAddress, Int32($0.count)) }
        guard written == bytes.count || bytes.isEmpty else {
            BIO_free(bio)
            throw TLSError.fromQueue("BIO_write")
        }
        pointer = bio
    }

    /// An empty BIO to write into.
    init() throws(TLSError) {
        guard let bio = BIO_new(BIO_s_mem()) else { throw TLSError.fromQueue("BIO_new") }
        pointer = bio
    }

    deinit { BIO_free(pointer) }

    /// Everything written into it so far.
    func contents() -> [UInt8] {
        let pending = Int(BIO_ctrl_pending(pointer))
        var bytes = [UInt8](repeating: 0, count: pending)
        let read = bytes.withUnsafeMutableBytes { BIO_read(pointer, $0.baseAddress, Int32(pending)) }
        return Array(bytes.prefix(max(0, Int(read))))
    }
}
