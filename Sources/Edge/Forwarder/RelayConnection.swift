import CSystem
import Glibc
import SlipwaySystem

/// One connection on a relay loop: the client's socket, the upstream's, and what each direction
/// still owes the other side.
///
/// Both sockets are non-blocking and registered edge-triggered, so epoll says only what changed;
/// the connection remembers which socket may have bytes to read or room to write, as nginx does.
/// Only the loop's thread touches a connection, until `handOff` gives it to a thread of its own.
final class RelayConnection {
    enum Side: UInt64 { case client = 0, server = 1 }

    /// What the loop does with the connection after an event.
    enum Outcome {
        case open
        /// Both directions have ended, or one failed: close both sockets.
        case ended
        /// A read filled the buffer: a bulk transfer, to be handed off.
        case bulk
        /// No address of the upstream took the connection: answer 502.
        case unreachable
    }

    /// One socket and what epoll has said of it since the last EAGAIN.
    struct Endpoint {
        var fd: Int32
        var readable = false
        // A new socket has room to send: the first send finds out otherwise, at the cost of one EAGAIN.
        var writable = true
        /// The peer closed or failed: read on to the end even after a short read.
        var hungUp = false

        mutating func note(_ events: UInt32) {
            if events & (SLIPWAY_EPOLLIN | SLIPWAY_EPOLLRDHUP | SLIPWAY_EPOLLHUP | SLIPWAY_EPOLLERR) != 0 { readable = true }
            if events & (SLIPWAY_EPOLLOUT | SLIPWAY_EPOLLHUP | SLIPWAY_EPOLLERR) != 0 { writable = true }
            if events & (SLIPWAY_EPOLLRDHUP | SLIPWAY_EPOLLHUP | SLIPWAY_EPOLLERR) != 0 { hungUp = true }
        }
    }

    /// One direction's bytes in flight.
    struct Flow {
        /// Read, but refused by the destination's full send buffer. The source is not read again
        /// until they are sent, so a slow reader holds back its writer instead of growing this.
        var pending: [UInt8] = []
        /// The source has ended; its destination gets the half-close once `pending` is sent.
        var sourceEnded = false
        /// The half-close has been passed on: the direction is over.
        var finished = false
        var bulk = false

        var carry: ByteRelay.Carry { ByteRelay.Carry(pending: pending, sourceEnded: sourceEnded, bulk: bulk) }
    }

    private enum Phase { case connecting(deadline: Int), relaying }

    static let events = Epoll.readable | Epoll.writable | Epoll.edgeTriggered

    let id: UInt64
    let onEnd: @Sendable () -> Void
    var lastActivity: Int
    private var client: Endpoint
    private var server: Endpoint
    private var upload = Flow()
    private var download = Flow()
    private var phase: Phase
    private var dialer: UpstreamDialer

    /// `attempt` is the connect to the upstream already started; `dialer` has the addresses left to try.
    init(id: UInt64, client: Int32, attempt: UpstreamDialer.Attempt, dialer: UpstreamDialer, onEnd: @escaping @Sendable () -> Void, now: Int) {
        self.id = id
        self.onEnd = onEnd
        lastActivity = now
        self.client = Endpoint(fd: client)
        server = Endpoint(fd: attempt.fd)
        phase = .connecting(deadline: attempt.deadline)
        self.dialer = dialer
    }

    func token(_ side: Side) -> UInt64 { id << 1 | side.rawValue }

    func register(in epoll: Epoll) throws(IOError) {
        try epoll.add(client.fd, events: Self.events, token: token(.client))
        try epoll.add(server.fd, events: Self.events, token: token(.server))
    }

    /// Takes an event for one of the two sockets and moves whatever bytes can move now.
    func handle(_ events: UInt32, on side: Side, epoll: Epoll, buffer: UnsafeMutableRawBufferPointer, now: Int, counters: RelayPool.Counters) -> Outcome {
        lastActivity = now
        switch side {
        case .client: client.note(events)
        case .server: server.note(events)
        }
        if case .connecting = phase {
            // The client waits, its bytes kept by its socket, until the upstream has answered.
            guard side == .server, events & (SLIPWAY_EPOLLOUT | SLIPWAY_EPOLLERR | SLIPWAY_EPOLLHUP) != 0 else { return .open }
            // A failed connect always reports an error or a hang-up, so only then is it worth asking which.
            if events & (SLIPWAY_EPOLLERR | SLIPWAY_EPOLLHUP) != 0 && Socket.connectError(server.fd) != 0 {
                return redial(epoll: epoll, now: now)
            }
            phase = .relaying
        }
        return relay(buffer: buffer, counters: counters)
    }

    /// Gives up on a connect that has run past its deadline; `.open` while another address is being tried.
    func checkDeadline(epoll: Epoll, now: Int) -> Outcome {
        guard case .connecting(let deadline) = phase, now >= deadline else { return .open }
        return redial(epoll: epoll, now: now)
    }

    private func redial(epoll: Epoll, now: Int) -> Outcome {
        // Closing the socket takes it out of the epoll set (no other process holds it: close-on-exec).
        close(server.fd)
        server.fd = -1
        guard let attempt = dialer.next(now: now) else { return .unreachable }
        server = Endpoint(fd: attempt.fd)
        phase = .connecting(deadline: attempt.deadline)
        do {
            try epoll.add(server.fd, events: Self.events, token: token(.server))
        } catch {
            return .ended
        }
        return .open
    }

    private func relay(buffer: UnsafeMutableRawBufferPointer, counters: RelayPool.Counters) -> Outcome {
        // With every bulk thread taken, a bulk transfer stays on the loop: slower, but bounded.
        let mayHandOff = ByteRelay.threads.hasRoom
        let up = Self.transfer(&upload, from: &client, to: &server, closing: download.finished, buffer: buffer, counters: counters,
                               mayHandOff: mayHandOff)
        if up == .ended { return .ended }
        let down = Self.transfer(&download, from: &server, to: &client, closing: upload.finished, buffer: buffer, counters: counters,
                                 mayHandOff: mayHandOff)
        if down == .ended { return .ended }
        if up == .bulk || down == .bulk { return .bulk }
        return upload.finished && download.finished ? .ended : .open
    }

    /// Moves one direction's bytes until a socket would block: `.ended` on an error, `.bulk` when
    /// a read filled the buffer. `closing`: the other direction is over, so the connection closes
    /// when this one ends.
    private static func transfer(_ flow: inout Flow, from source: inout Endpoint, to destination: inout Endpoint, closing: Bool,
                                 buffer: UnsafeMutableRawBufferPointer, counters: RelayPool.Counters, mayHandOff: Bool) -> Outcome {
        while !flow.finished {
            if !flow.pending.isEmpty {
                guard destination.writable else { return .open }
                let sent = flow.pending.withUnsafeBytes { send(destination.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if sent < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN { destination.writable = false; return .open }
                    return .ended
                }
                flow.pending.removeFirst(sent)
                if !flow.pending.isEmpty { destination.writable = false; return .open }
                continue
            }
            if flow.sourceEnded {
                // Closing sends the FIN itself when nothing is left unread, as nothing is after both ends.
                if !closing { shutdown(destination.fd, Int32(SHUT_WR)) }
                flow.finished = true
                return .open
            }
            guard source.readable else { return .open }
            let count = recv(source.fd, buffer.baseAddress, buffer.count, 0)
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { source.readable = false; return .open }
                return .ended
            }
            if count == 0 {
                flow.sourceEnded = true
                continue
            }
            // A short read emptied the socket, and anything arriving later raises a new event; so
            // the next read would only return EAGAIN. Not after a hang-up: the end of the stream
            // may already be queued behind these bytes, and no further event would announce it.
            if count < buffer.count && !source.hungUp { source.readable = false }
            var sent = 0
            while destination.writable {
                sent = send(destination.fd, buffer.baseAddress, count, Int32(MSG_NOSIGNAL))
                if sent >= 0 { break }
                if errno == EINTR { continue }
                if errno != EAGAIN { return .ended }
                sent = 0
                destination.writable = false
            }
            if sent < count {
                destination.writable = false
                flow.pending = Array(UnsafeRawBufferPointer(rebasing: buffer[sent..<count]))
                counters.stalls.add(1, ordering: .relaxed)
            }
            if count == buffer.count && mayHandOff {
                flow.bulk = true
                return .bulk
            }
        }
        return .open
    }

    /// Moves the connection to a thread of its own running the blocking relay, which splices bulk
    /// data. The caller has dropped it from its loop; false when no thread could start (the
    /// connection is closed then).
    func handOff(from epoll: Epoll) -> Bool {
        epoll.remove(client.fd)
        epoll.remove(server.fd)
        for fd in [client.fd, server.fd] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) }
        let (clientFD, serverFD, onEnd) = (client.fd, server.fd, onEnd)
        let carry = (upload.carry, download.carry)
        guard ByteRelay.threads.take() else {
            // Another worker took the last place since `relay` looked: rare, and the
            // connection is closed rather than a thread started past the cap.
            end()
            return false
        }
        let started = OSThread.detach(name: "relay-bulk", stackSize: 256 * 1024) {
            ByteRelay.pump(clientFD, serverFD, carry: carry)
            close(clientFD)
            close(serverFD)
            ByteRelay.threads.give()
            onEnd()
        }
        if !started {
            ByteRelay.threads.give()
            end()
        }
        return started
    }

    /// Closes both sockets and reports the end of the relay.
    func end() {
        close(client.fd)
        if server.fd >= 0 { close(server.fd) }
        onEnd()
    }

    /// Answers 502 in the upstream's place; the answer's thread closes the client and reports the end.
    func answerUnreachable(from epoll: Epoll) {
        epoll.remove(client.fd)
        if server.fd >= 0 { close(server.fd) }
        ProxyReply.send(client.fd, status: "502 Bad Gateway", message: "the app is not answering", done: onEnd)
    }
}
