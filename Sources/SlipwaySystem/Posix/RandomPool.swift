import CSystem
import Glibc
import Synchronization

/// Random bytes from the kernel's generator (getrandom), fetched 4 KiB at a time and handed out
/// in small pieces: the HTTP edge takes 16 for every request id, and a getrandom call per id
/// (two, through SystemRandomNumberGenerator's UInt64s) was a system call per request that nginx,
/// with its own generator, does not make. The bytes are the kernel's, unguessable as they are;
/// each is handed out once.
public final class RandomPool: Sendable {
    public static let shared = RandomPool()

    /// 256 request ids per refill.
    static let refillBytes = 4096

    private struct State {
        var bytes = [UInt8](repeating: 0, count: RandomPool.refillBytes)
        /// The first byte not handed out yet; `bytes.count` when all were.
        var next = RandomPool.refillBytes
    }

    private let state = Mutex(State())

    public init() {}

    /// Fills `buffer` (at most `refillBytes`) with random bytes.
    public func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count <= Self.refillBytes, "at most \(Self.refillBytes) random bytes at once")
        state.withLock { s in
            if s.bytes.count - s.next < buffer.count {
                s.bytes.withUnsafeMutableBytes { Self.getRandom($0) }
                s.next = 0
            }
            s.bytes.withUnsafeBytes { all in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: all[s.next..<s.next + buffer.count]))
            }
            s.next += buffer.count
        }
    }

    /// getrandom(2) until `buffer` is full; it blocks only before the kernel's pool is first
    /// seeded, early in boot.
    private static func getRandom(_ buffer: UnsafeMutableRawBufferPointer) {
        var offset = 0
        while offset < buffer.count {
            let n = getrandom(buffer.baseAddress! + offset, buffer.count - offset, 0)
            if n > 0 {
                offset += n
            } else if n < 0 && errno != EINTR {
                // Only a kernel before 3.17 lacks it; Slipway needs a newer one for far more.
                fatalError("getrandom failed: errno \(errno)")
            }
        }
    }
}
