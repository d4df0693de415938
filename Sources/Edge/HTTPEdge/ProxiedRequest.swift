import Glibc
import SlipwayHTTP
import SlipwayServer
import SlipwaySystem

/// One request the edge proxies to an app, from the moment it takes the app's live upstream to
/// the last byte of the answer: the request streams to the container, the answer streams back,
/// and neither is ever held whole (a body passes through one buffer of the worker's).
///
/// Runs on the server worker that serves the client's connection and blocks on both sockets,
/// each wait with its own deadline (`EdgeSettings`); the pool starts another worker meanwhile.
///
/// Every request is recorded once in the app's access log when it ends, the edge's own answers
/// included; an upgraded connection is recorded by its relay when it closes.
struct ProxiedRequest {
    let exchange: Exchange
    let app: EdgeApp
    let settings: EdgeSettings
    let requestID: String
    let access: PendingAccessRecord

    /// Methods a retry cannot repeat the effect of (RFC 9110 section 9.2.2), as Go's transport
    /// counts them; and only without a body, since a streamed body cannot be sent twice.
    private static let idempotent: Set<String> = ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]
    /// Interim answers (103 Early Hints, stray 100s) skipped before the final one, at most.
    private static let maximumInterimResponses = 16

    private enum ClientFailure: Error {
        /// The request's own fault, answered with its status (408, 413, 400).
        case answered(HTTPError)
        /// The client went away, or stopped reading.
        case gone
    }

    /// How a request ended, for the connection (`outcome`) and the access log.
    private struct Served {
        let outcome: Exchange.Outcome
        /// The status sent, or meant to be sent when the client left while it went out.
        let status: Int
        /// The edge's own 502/504, or an answer the app broke off midway.
        var upstreamFailed = false
    }

    /// Where a forward attempt ended.
    private enum Ending {
        case finished(Served)
        /// The connection became a byte relay, which now holds the upstream and releases it.
        case upgraded(Exchange.Outcome)
        /// A kept-alive connection turned out dead before any answer: try a new one.
        case retry
    }

    func run() -> Exchange.Outcome {
        if case .contentLength(let length) = exchange.framing, length > app.maxRequestBody {
            return record(respond(EdgePage.tooLarge(app: app.name, limit: app.maxRequestBody)), deploymentID: nil)
        }
        exchange.bodyLimit = app.maxRequestBody
        let upgrade = ProxyHeaders.wantsUpgrade(exchange.head) && exchange.framing == .none
        // An upgraded connection is relayed on a thread of its own, so it needs one from the
        // budget the port forwarders' bulk transfers share before it is let through.
        if upgrade, !ByteRelay.threads.take() { return record(respond(EdgePage.upgradesBusy(app: app.name)), deploymentID: nil) }
        switch app.live.acquire() {
        case .unavailable(let why):
            if upgrade { ByteRelay.threads.give() }
            return record(respond(EdgePage.unavailable(app: app.name, why: why)), deploymentID: nil)
        case .upstream(let upstream):
            var fresh = upgrade
            while true {
                switch forward(to: upstream, upgrade: upgrade, fresh: fresh) {
                case .retry:
                    fresh = true
                case .finished(let served):
                    if upgrade { ByteRelay.threads.give() }
                    app.live.release(upstream)
                    return record(served, deploymentID: upstream.deploymentID)
                case .upgraded(let outcome):
                    return outcome
                }
            }
        }
    }

    /// The request's one access record, once its last byte went out (or it broke off).
    private func record(_ served: Served, deploymentID: Int?) -> Exchange.Outcome {
        access.finish(status: served.status, bytesReceived: exchange.bodyBytesRead, bytesSent: exchange.bytesSent,
                      deploymentID: deploymentID, upstreamFailed: served.upstreamFailed)
        return served.outcome
    }

    /// One attempt: a connection (idle, unless `fresh`, or new), the request, the answer.
    private func forward(to upstream: Upstream, upgrade: Bool, fresh: Bool) -> Ending {
        let mayRetry = !fresh && exchange.framing == .none && Self.idempotent.contains(exchange.head.method)
        let connection: UpstreamConnection
        if !fresh, let idle = nextIdleConnection(to: upstream) {
            connection = idle
        } else {
            do {
                connection = try UpstreamConnection.dial(upstream, timeoutMilliseconds: settings.connectTimeoutMilliseconds)
            } catch {
                return .finished(fail(error))
            }
        }
        let head = ProxyHeaders.upstreamRequest(exchange.head, framing: exchange.framing, clientAddress: exchange.remoteAddress,
                                                requestID: requestID, upgrade: upgrade)
        var bodySent = true
        do {
            try connection.send(head, timeoutMilliseconds: settings.sendTimeoutMilliseconds)
            bodySent = try sendBody(to: connection)
        } catch let failure as UpstreamFailure {
            if connection.reused && mayRetry && !connection.receivedAny { return .retry }
            return .finished(fail(failure))
        } catch ClientFailure.answered(let error) {
            connection.close()
            if error.status == 413 { return .finished(respond(EdgePage.tooLarge(app: app.name, limit: app.maxRequestBody))) }
            return .finished(respond(EdgePage.error(error)))
        } catch {
            connection.close()
            return .finished(Served(outcome: exchange.abandon(), status: Self.clientClosedRequest))
        }

        let response: ResponseHead
        do {
            response = try readFinalHead(from: connection)
        } catch {
            if connection.reused && mayRetry && !connection.receivedAny { return .retry }
            return .finished(fail(error))
        }
        if response.status == 101 {
            guard upgrade else { return .finished(fail(.malformed("101 Switching Protocols to a request that asked for no upgrade"))) }
            return .upgraded(UpgradedConnection.start(exchange: exchange, upstream: connection, response: response,
                                                     requestID: requestID, app: app, held: upstream, access: access))
        }
        return .finished(relay(response, from: connection, to: upstream, bodySent: bodySent && !upgrade))
    }

    private func nextIdleConnection(to upstream: Upstream) -> UpstreamConnection? {
        while let fd = app.live.takeIdleConnection(to: upstream) {
            if let connection = UpstreamConnection.idle(fd) { return connection }
        }
        return nil
    }

    /// Streams the request body to the app, re-framed as the head said (chunks stay chunks).
    /// False when the app stopped taking it: its answer may say why (an early 413, say).
    private func sendBody(to connection: UpstreamConnection) throws -> Bool {
        let chunked = exchange.framing == .chunked
        while true {
            let piece: UnsafeRawBufferPointer?
            do {
                piece = try exchange.nextBodyPiece()
            } catch let error as HTTPError {
                throw ClientFailure.answered(error)
            } catch {
                throw ClientFailure.gone
            }
            do {
                guard let piece else {
                    if chunked { try connection.send(ResponseEncoder.lastChunk, timeoutMilliseconds: settings.sendTimeoutMilliseconds) }
                    return true
                }
                if chunked { try connection.send(Array((String(piece.count, radix: 16) + "\r\n").utf8), timeoutMilliseconds: settings.sendTimeoutMilliseconds) }
                try connection.send(piece, timeoutMilliseconds: settings.sendTimeoutMilliseconds)
                if chunked { try connection.send([0x0d, 0x0a], timeoutMilliseconds: settings.sendTimeoutMilliseconds) }
            } catch {
                // Nothing came back yet: the app is gone, not answering early.
                if !connection.receivedAny && !hasBytesWaiting(connection) { throw error }
                return false
            }
        }
    }

    private func hasBytesWaiting(_ connection: UpstreamConnection) -> Bool {
        var probe = pollfd(fd: connection.fd, events: Int16(POLLIN), revents: 0)
        return poll(&probe, 1, 0) > 0 && probe.revents & Int16(POLLIN) != 0
    }

    /// Reads the app's answer's head, skipping interim ones (their hints are not passed on).
    private func readFinalHead(from connection: UpstreamConnection) throws(UpstreamFailure) -> ResponseHead {
        var interim = 0
        while true {
            switch ResponseHeadParser.parse(connection.input[connection.consumed...], limits: HTTPLimits()) {
            case .failed(let reason):
                throw .malformed(reason)
            case .complete(let head, let length):
                connection.consumed += length
                guard head.isInterim else { return head }
                interim += 1
                if interim > Self.maximumInterimResponses { throw .malformed("more than \(Self.maximumInterimResponses) interim answers") }
            case .incomplete:
                guard try connection.receiveMore(through: exchange.buffer, timeoutMilliseconds: settings.readTimeoutMilliseconds) else {
                    if connection.buffered > 0 { throw .malformed("the app closed the connection in the middle of its answer's head") }
                    throw .broken(function: "recv", errno: 0)
                }
            }
        }
    }

    /// Sends the answer's head to the client and streams its body after it.
    private func relay(_ response: ResponseHead, from connection: UpstreamConnection, to upstream: Upstream, bodySent: Bool) -> Served {
        let framing: ResponseFraming
        do {
            framing = try ResponseFraming.of(response, requestMethod: exchange.head.method)
        } catch {
            return fail(.malformed(error.reason))
        }
        let http10 = exchange.head.isHTTP10
        let clientFraming: ProxyHeaders.ClientFraming
        switch framing {
        case .none, .contentLength: clientFraming = .asIs
        case .chunked, .untilClose: clientFraming = http10 ? .untilClose : .chunked
        }
        let keepAlive = exchange.clientKeepsAlive && exchange.bodyComplete && clientFraming != .untilClose
        let head = ProxyHeaders.clientResponse(response, framing: framing, clientFraming: clientFraming, keepAlive: keepAlive,
                                               http10Client: http10, requestID: requestID, upgrade: false)
        do {
            try exchange.write(head)
        } catch {
            return Served(outcome: exchange.abandon(), status: response.status)
        }
        var body = ResponseBodyStream(exchange: exchange, connection: connection, chunkedToClient: clientFraming == .chunked,
                                      readTimeoutMilliseconds: settings.readTimeoutMilliseconds)
        switch body.copy(framing) {
        case .complete:
            break
        case .upstreamBroke:
            connection.close()
            return Served(outcome: exchange.abandon(), status: response.status, upstreamFailed: true)
        case .clientGone:
            connection.close()
            return Served(outcome: exchange.abandon(), status: response.status)
        }
        if bodySent && response.keepsAlive && framing != .untilClose && connection.buffered == 0 {
            app.live.putIdleConnection(connection.release(), to: upstream)
        } else {
            connection.close()
        }
        return Served(outcome: exchange.finish(keepAlive: keepAlive), status: response.status)
    }

    /// An error page for a request the app did not answer, logged with the reason.
    private func fail(_ failure: UpstreamFailure) -> Served {
        Log.warning("edge: \(app.name): \(exchange.head.method) \(exchange.head.path): \(failure) (request \(requestID))")
        var served: Served
        switch failure.status {
        case 504: served = respond(EdgePage.gatewayTimeout(app: app.name, seconds: settings.readTimeoutMilliseconds / 1000))
        default: served = respond(EdgePage.badGateway(app: app.name))
        }
        served.upstreamFailed = true
        return served
    }

    /// Answers with a page of the edge's own, carrying the request's id as the app's answers do.
    private func respond(_ page: HTTPResponse) -> Served {
        var response = page
        response.headers.set("X-Request-Id", requestID)
        return Served(outcome: exchange.respond(response), status: response.status)
    }

    /// What the access log records for a request whose client left before any answer went out:
    /// nginx's 499, so the line reads as it would in nginx's log.
    private static let clientClosedRequest = 499
}
