import CSystem
import Glibc

/// Copies a TCP connection both ways until both directions have ended, passing half-closes along,
/// on a thread of its own with blocking sockets: the port forwarder's relay loops hand a
/// connection over to it once one of their reads fills the 64 KiB buffer.
///
/// A direction goes through the buffer until a read fills it; then it is a bulk transfer and
/// switches to splice(2) through a pipe, so its bytes stay in the kernel (benchmark 5: bulk
/// transfers through the buffer ran at 0.69 of a direct connection). The pipe is made only then.
struct ByteRelay {
    /// Bulk transfers relayed on threads of their own at once, for all forwarders; past it,
    /// transfers stay on the relay workers' loops.
    static let threads = ThreadBudget(limit: 256)

    static let bufferSize = 64 * 1024
    static let pipeSize: Int32 = 1 << 20

    /// One direction: its source, its destination and, once it carries bulk data, its pipe.
    private struct Direction {
        let from: Int32
        let to: Int32
        var open = true
        var pipe: (read: Int32, write: Int32)?
    }

    /// Where one direction stands when a connection the relay loops started is handed over.
    struct Carry {
        /// Read from the source and not yet sent on.
        var pending: [UInt8] = []
        /// The source has ended: after `pending`, the destination gets its half-close.
        var sourceEnded = false
        /// The direction carries bulk data, so it splices from the start.
        var bulk = false
    }

    /// Returns when both directions have ended, on an error, or after `idleMilliseconds` of silence,
    /// with the bytes delivered each way (`carry`'s included), for the HTTP edge's access log.
    /// `carry` (a to b, then b to a) resumes a connection that was relayed elsewhere so far.
    @discardableResult
    static func pump(_ a: Int32, _ b: Int32, idleMilliseconds: Int32 = 300_000,
                     carry: (Carry, Carry) = (Carry(), Carry())) -> (toB: Int, toA: Int) {
        var directions = [Direction(from: a, to: b), Direction(from: b, to: a)]
        var delivered = [0, 0]
        defer {
            for d in directions {
                if let p = d.pipe { close(p.read); close(p.write) }
            }
        }
        for (index, c) in [carry.0, carry.1].enumerated() {
            guard c.pending.isEmpty || c.pending.withUnsafeBytes({ sendAll(directions[index].to, $0.baseAddress!, $0.count) }) else {
                return (delivered[0], delivered[1])
            }
            delivered[index] += c.pending.count
            if c.sourceEnded {
                shutdown(directions[index].to, Int32(SHUT_WR))
                directions[index].open = false
            } else if c.bulk {
                directions[index].pipe = makePipe()
            }
        }
        var buffer = [UInt8](repeating: 0, count: bufferSize)
        while directions[0].open || directions[1].open {
            var fds = directions.map { pollfd(fd: $0.open ? $0.from : -1, events: Int16(POLLIN), revents: 0) }
            let n = poll(&fds, 2, idleMilliseconds)
            if n < 0 { if errno == EINTR { continue }; return (delivered[0], delivered[1]) }
            if n == 0 { return (delivered[0], delivered[1]) }
            for index in 0..<2 where fds[index].revents != 0 {
                let moved = directions[index].pipe == nil
                    ? copy(&directions[index], &buffer)
                    : splice(directions[index])
                switch moved {
                case .some(0):
                    shutdown(directions[index].to, Int32(SHUT_WR))
                    directions[index].open = false
                case .some(let count):
                    // -1: the read would have blocked; nothing moved.
                    if count > 0 { delivered[index] += count }
                case .none:
                    return (delivered[0], delivered[1])
                }
            }
        }
        return (delivered[0], delivered[1])
    }

    /// Bytes moved (0 at the end of the stream), or nil when the connection is broken.
    private static func copy(_ d: inout Direction, _ buffer: inout [UInt8]) -> Int? {
        let count = buffer.withUnsafeMutableBytes { recv(d.from, $0.baseAddress, $0.count, 0) }
        if count < 0 { return errno == EINTR || errno == EAGAIN ? -1 : nil }
        if count == 0 { return 0 }
        guard buffer.withUnsafeBytes({ sendAll(d.to, $0.baseAddress!, count) }) else { return nil }
        if count == buffer.count { d.pipe = makePipe() }
        return count
    }

    private static func splice(_ d: Direction) -> Int? {
        guard let pipe = d.pipe else { return nil }
        let flags = UInt32(SLIPWAY_SPLICE_F_MOVE | SLIPWAY_SPLICE_F_NONBLOCK)
        let count = CSystem.splice(d.from, nil, pipe.write, nil, Int(pipeSize), flags)
        if count < 0 { return errno == EINTR || errno == EAGAIN ? -1 : nil }
        if count == 0 { return 0 }
        var left = count
        while left > 0 {
            // The pipe holds `left` bytes, so this blocks only on the destination socket.
            let sent = CSystem.splice(pipe.read, nil, d.to, nil, left, UInt32(SLIPWAY_SPLICE_F_MOVE))
            if sent < 0 {
                if errno == EINTR { continue }
                return nil
            }
            left -= sent
        }
        return count
    }

    /// A pipe for splicing, or nil (then the direction keeps copying through the buffer).
    private static func makePipe() -> (read: Int32, write: Int32)? {
        var fds: [Int32] = [0, 0]
        guard pipe2(&fds, O_CLOEXEC) == 0 else { return nil }
        _ = fcntl(fds[1], SLIPWAY_F_SETPIPE_SZ, pipeSize)
        return (fds[0], fds[1])
    }

    static func sendAll(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Bool {
        var offset = 0
        while offset < count {
            let n = send(fd, bytes + offset, count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }
}
