import Glibc
import SlipwayHTTP
import SlipwayServer
import SlipwaySystem

/// A connection the app switched to another protocol (a WebSocket): once the 101 has gone to the
/// client, the edge no longer reads HTTP on it, and the client's socket leaves the server for a
/// byte relay on a thread of its own (`ByteRelay`, the port forwarder's splice path; over HTTPS,
/// `TLSByteRelay` through the client's TLS session). It counts
/// as in flight to the container until it closes, so a swap's drain waits for it (up to the
/// drain timeout), as it waits for a forwarded TCP connection.
///
/// Its access record is made when it closes, not at the 101: status 101, the bytes relayed each
/// way (the 101's head included in those sent), and the duration of the whole connection, as
/// nginx logs a WebSocket. A record at the 101 would show every WebSocket as a few hundred bytes.
enum UpgradedConnection {
    /// The caller has taken a thread from `ByteRelay.threads` and acquired `held`; both are given
    /// back here, when the relay ends or if it cannot start.
    static func start(exchange: Exchange, upstream: UpstreamConnection, response: ResponseHead, requestID: String,
                      app: EdgeApp, held: Upstream, access: PendingAccessRecord) -> Exchange.Outcome {
        let head = ProxyHeaders.clientResponse(response, framing: .none, clientFraming: .asIs, keepAlive: true,
                                               http10Client: false, requestID: requestID, upgrade: true)
        do {
            try exchange.write(head)
        } catch {
            finish(app: app, held: held)
            access.finish(status: 101, bytesReceived: 0, bytesSent: exchange.bytesSent, deploymentID: held.deploymentID, upstreamFailed: false)
            return exchange.abandon()
        }
        let headBytes = exchange.bytesSent
        let detached = exchange.detach()
        // What the app sent right after its 101 (a first frame) goes to the client before anything else.
        let fromApp = Array(upstream.input[upstream.consumed...])
        let appFD = upstream.release()
        let clientFD = detached.fd
        let fromClient = detached.pending
        let started = OSThread.detach(name: "edge-upgrade") {
            // The relay waits on both sockets itself (poll), and blocking sends keep it simple.
            // Over TLS the client's socket stays non-blocking: OpenSSL says what it waits for.
            setBlocking(appFD)
            let moved: (toB: Int, toA: Int)
            if let session = detached.tls {
                let relayed = TLSByteRelay.pump(client: session, clientFD: clientFD, app: appFD, fromClient: fromClient, fromApp: fromApp)
                moved = (relayed.toApp, relayed.toClient)
                session.shutdown()
            } else {
                setBlocking(clientFD)
                moved = ByteRelay.pump(clientFD, appFD, carry: (ByteRelay.Carry(pending: fromClient), ByteRelay.Carry(pending: fromApp)))
            }
            close(clientFD)
            close(appFD)
            finish(app: app, held: held)
            access.finish(status: 101, bytesReceived: moved.toB, bytesSent: headBytes + moved.toA, deploymentID: held.deploymentID,
                          upstreamFailed: false)
        }
        if !started {
            close(clientFD)
            close(appFD)
            finish(app: app, held: held)
            access.finish(status: 101, bytesReceived: 0, bytesSent: headBytes, deploymentID: held.deploymentID, upstreamFailed: false)
        }
        return detached.outcome
    }

    private static func finish(app: EdgeApp, held: Upstream) {
        app.live.release(held)
        ByteRelay.threads.give()
    }

    private static func setBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
    }
}
