import SlipwaySystem
/// The addresses a relayed connection tries in turn to reach its upstream: the container's bridge
/// address, then its published loopback port. Each connect is started here and finished by
/// whoever waits for the socket, so no thread waits on an upstream that does not answer.
struct UpstreamDialer: Sendable {
    /// A connect in progress and the time (monotonic milliseconds) it must be done by.
    struct Attempt: Sendable {
        let fd: Int32
        let deadline: Int
    }

    private let upstream: Upstream
    private var tried = 0

    init(_ upstream: Upstream) {
        self.upstream = upstream
    }

    /// Starts a connect to the next address that takes one; nil once every address has failed.
    mutating func next(now: Int) -> Attempt? {
        while tried < 2 {
            defer { tried += 1 }
            // The bridge address gets 1 s: it answers at once when the container is up, and the
            // published port (through docker-proxy, 5 s) is the way in when the bridge is not.
            let address: (host: String, port: Int, milliseconds: Int)
            if tried == 0 {
                guard let direct = upstream.direct else { continue }
                address = (direct.host, direct.port, 1000)
            } else {
                address = (upstream.host, upstream.port, 5000)
            }
            if let started = try? Socket.beginConnect(ipv4: address.host, port: address.port) {
                return Attempt(fd: started.fd, deadline: now + address.milliseconds)
            }
        }
        return nil
    }
}
