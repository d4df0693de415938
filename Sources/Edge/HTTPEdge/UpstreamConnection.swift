import CSystem
import Glibc
import SlipwaySystem

/// One connection to an app's container, used by one proxied request at a time: dialed for it,
/// or taken from the app's idle pool. The socket is non-blocking, and every wait on it has its
/// own deadline, so no request waits on an app for longer than the edge's timeouts.
final class UpstreamConnection {
    let fd: Int32
    /// Taken from the idle pool: the app may have closed it meanwhile, which is why a request that
    /// fails on one before any answer may be tried once more on a new connection.
    let reused: Bool
    /// Bytes read from the app and not consumed yet: the start of a body after its head, chunk
    /// framing still to decode. Never more than one read past the head's limit.
    var input: [UInt8] = []
    /// How far `input` is consumed.
    var consumed = 0
    /// Whether any byte of an answer has come back; after one, the request is never retried.
    private(set) var receivedAny = false
    private var closed = false

    init(fd: Int32, reused: Bool) {
        self.fd = fd
        self.reused = reused
    }

    deinit { close() }

    /// Connects to the container: its bridge address first (skipping docker-proxy), then its
    /// published loopback port, as the port forwarder does.
    static func dial(_ upstream: Upstream, timeoutMilliseconds: Int) throws(UpstreamFailure) -> UpstreamConnection {
        var lastError = ECONNREFUSED
        if let direct = upstream.direct {
            do {
                return UpstreamConnection(fd: try Socket.connect(ipv4: direct.host, port: direct.port,
                                                                 timeoutMilliseconds: min(1_000, timeoutMilliseconds)), reused: false)
            } catch {
                lastError = error.errno
            }
        }
        do {
            return UpstreamConnection(fd: try Socket.connect(ipv4: upstream.host, port: upstream.port, timeoutMilliseconds: timeoutMilliseconds),
                                      reused: false)
        } catch {
            lastError = error.errno
        }
        throw .connect(errno: lastError)
    }

    /// An idle connection from the pool. With `probe`, nil unless the app has closed it (or sent
    /// something no request asked for, which makes it unusable too): a look before the request
    /// goes out, at the cost of a poll.
    static func idle(_ fd: Int32, probe: Bool) -> UpstreamConnection? {
        if probe {
            var look = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&look, 1, 0) != 0 {
                Glibc.close(fd)
                return nil
            }
        }
        return UpstreamConnection(fd: fd, reused: true)
    }

    /// Sends all of `bytes`, waiting at most `timeoutMilliseconds` between two sends.
    func send(_ bytes: UnsafeRawBufferPointer, timeoutMilliseconds: Int) throws(UpstreamFailure) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.send(fd, base + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n > 0 {
                offset += n
                continue
            }
            let code = errno
            if code == EINTR { continue }
            guard code == EAGAIN || code == EWOULDBLOCK else { throw .broken(function: "send", errno: code) }
            guard (try? Socket.wait(fd, events: Int16(POLLOUT), timeoutMilliseconds: timeoutMilliseconds)) == .ready else {
                throw .timedOut(milliseconds: timeoutMilliseconds)
            }
        }
    }

    func send(_ bytes: [UInt8], timeoutMilliseconds: Int) throws(UpstreamFailure) {
        var failure: UpstreamFailure?
        bytes.withUnsafeBytes { raw in
            do { try send(raw, timeoutMilliseconds: timeoutMilliseconds) } catch { failure = (error as? UpstreamFailure) ?? .broken(function: "send", errno: EIO) }
        }
        if let failure { throw failure }
    }

    /// One read into `buffer`, waiting at most `timeoutMilliseconds` for it; 0 when the app has
    /// closed its side.
    func receive(into buffer: UnsafeMutableRawBufferPointer, timeoutMilliseconds: Int) throws(UpstreamFailure) -> Int {
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n > 0 {
                receivedAny = true
                return n
            }
            if n == 0 { return 0 }
            let code = errno
            if code == EINTR { continue }
            guard code == EAGAIN || code == EWOULDBLOCK else { throw .broken(function: "recv", errno: code) }
            guard (try? Socket.wait(fd, events: Int16(POLLIN), timeoutMilliseconds: timeoutMilliseconds)) == .ready else {
                throw .timedOut(milliseconds: timeoutMilliseconds)
            }
        }
    }

    /// What one read that does not wait found.
    enum Arrival {
        case bytes
        /// The app closed its side.
        case closed
        /// Nothing yet: wait for the socket to be readable.
        case nothingYet
    }

    /// Reads what the app has sent into `input`, through `buffer`, without waiting.
    func receiveAvailable(through buffer: UnsafeMutableRawBufferPointer) throws(UpstreamFailure) -> Arrival {
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n > 0 {
                receivedAny = true
                compact()
                input.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                return .bytes
            }
            if n == 0 { return .closed }
            let code = errno
            if code == EINTR { continue }
            guard code == EAGAIN || code == EWOULDBLOCK else { throw .broken(function: "recv", errno: code) }
            return .nothingYet
        }
    }

    /// Reads once more into `input`, through `buffer`; false when the app closed its side.
    func receiveMore(through buffer: UnsafeMutableRawBufferPointer, timeoutMilliseconds: Int) throws(UpstreamFailure) -> Bool {
        let n = try receive(into: buffer, timeoutMilliseconds: timeoutMilliseconds)
        guard n > 0 else { return false }
        compact()
        input.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        return true
    }

    /// Unconsumed bytes in `input`.
    var buffered: Int { input.count - consumed }

    /// Drops the consumed part of `input`, so it holds only what is still to be read.
    func compact() {
        guard consumed > 0 else { return }
        input.removeFirst(consumed)
        consumed = 0
    }

    /// Hands the socket over (to the idle pool, or a byte relay); this object no longer closes it.
    func release() -> Int32 {
        closed = true
        return fd
    }

    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }
}
