import Glibc
import SlipwayHTTP
import SlipwayServer
import SlipwaySystem

/// One request the edge proxies to an app, from the moment it takes the app's live upstream to
/// the last byte of the answer: the request streams to the container, the answer streams back,
/// and neither is ever held whole (a body passes through one buffer of the worker's).
///
/// Runs on the server worker that serves the client's connection. While the app works on its
/// answer the worker is given back (`Exchange.waitForReadable`) and the request goes on, on
/// whichever worker is free, when the answer's first bytes arrive: that wait is most of a small
/// request's life, and blocking a thread through it cost two context switches per request.
/// Sending the request and streaming a long answer still block, each wait with its own
/// deadline (`EdgeSettings`); the pool starts another worker meanwhile.
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
        /// The upstream was let go already, with the answer in hand (`relay`).
        var released = false
    }

    /// Where a forward attempt ended, or paused.
    private enum Ending {
        case finished(Served)
        /// The connection became a byte relay, which now holds the upstream and releases it.
        case upgraded(Exchange.Outcome)
        /// A kept-alive connection turned out dead before any answer: try a new one.
        case retry
        /// Waiting for the app's answer; the continuation concludes the attempt.
        case waiting(Exchange.Outcome)
    }

    /// One attempt's state while its answer is awaited.
    private struct Attempt {
        let upstream: Upstream
        let connection: UpstreamConnection
        let upgrade: Bool
        /// A failure before any answer may be retried on a new connection.
        let mayRetry: Bool
        /// The whole request body went out (else the app stopped taking it).
        let bodySent: Bool
        /// Interim answers skipped so far.
        var interim = 0
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
        let (admission, idle) = upgrade ? (app.live.acquire(), nil) : app.live.acquireWithIdleConnection()
        switch admission {
        case .unavailable(let why):
            if upgrade { ByteRelay.threads.give() }
            return record(respond(EdgePage.unavailable(app: app.name, why: why)), deploymentID: nil)
        case .upstream(let upstream):
            return conclude(forward(to: upstream, upgrade: upgrade, fresh: upgrade, taken: idle), upstream: upstream, upgrade: upgrade)
        }
    }

    /// What an attempt's ending means for the exchange: the upstream let go and the request
    /// recorded when it finished; another attempt on a new connection when it may be retried.
    private func conclude(_ ending: Ending, upstream: Upstream, upgrade: Bool) -> Exchange.Outcome {
        switch ending {
        case .retry:
            return conclude(forward(to: upstream, upgrade: upgrade, fresh: true), upstream: upstream, upgrade: upgrade)
        case .finished(let served):
            if upgrade { ByteRelay.threads.give() }
            if !served.released { app.live.release(upstream) }
            return record(served, deploymentID: upstream.deploymentID)
        case .upgraded(let outcome), .waiting(let outcome):
            return outcome
        }
    }

    /// The request's one access record, once its last byte went out (or it broke off).
    private func record(_ served: Served, deploymentID: Int?) -> Exchange.Outcome {
        access.finish(status: served.status, bytesReceived: exchange.bodyBytesRead, bytesSent: exchange.bytesSent,
                      deploymentID: deploymentID, upstreamFailed: served.upstreamFailed)
        return served.outcome
    }

    /// One attempt: a connection (idle, unless `fresh`, or new), the request, the answer.
    /// `taken` is an idle connection that came with the upstream, to try first.
    private func forward(to upstream: Upstream, upgrade: Bool, fresh: Bool,
                         taken: (fd: Int32, idleMilliseconds: Int)? = nil) -> Ending {
        let mayRetry = !fresh && exchange.framing == .none && Self.idempotent.contains(exchange.head.method)
        let connection: UpstreamConnection
        if !fresh, let idle = nextIdleConnection(to: upstream, mayRetry: mayRetry, taken: taken) {
            connection = idle
        } else {
            do {
                connection = try UpstreamConnection.dial(upstream, timeoutMilliseconds: settings.connectTimeoutMilliseconds)
            } catch {
                return .finished(fail(error))
            }
        }
        let head = ProxyHeaders.upstreamRequest(exchange.head, framing: exchange.framing, clientAddress: exchange.remoteAddress,
                                                requestID: requestID, upgrade: upgrade, proto: settings.forwardedProto)
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

        return receiveHead(Attempt(upstream: upstream, connection: connection, upgrade: upgrade, mayRetry: mayRetry, bodySent: bodySent))
    }

    /// Reads the app's answer's head as far as it has come, skipping interim ones (their hints
    /// are not passed on), and answers the client once it is whole. Until then the worker is
    /// given back, and this runs again when more arrives.
    private func receiveHead(_ attempt: Attempt) -> Ending {
        var attempt = attempt
        let connection = attempt.connection
        while true {
            switch ResponseHeadParser.parse(connection.input[connection.consumed...], limits: HTTPLimits()) {
            case .failed(let reason):
                return .finished(fail(.malformed(reason)))
            case .complete(let head, let length):
                connection.consumed += length
                if head.isInterim {
                    attempt.interim += 1
                    if attempt.interim > Self.maximumInterimResponses {
                        return .finished(fail(.malformed("more than \(Self.maximumInterimResponses) interim answers")))
                    }
                    continue
                }
                return answer(head, attempt)
            case .incomplete:
                let arrival: UpstreamConnection.Arrival
                do {
                    arrival = try connection.receiveAvailable(through: exchange.buffer)
                } catch {
                    return brokeBeforeAnswer(error, attempt)
                }
                switch arrival {
                case .bytes:
                    continue
                case .closed:
                    if connection.buffered > 0 { return .finished(fail(.malformed("the app closed the connection in the middle of its answer's head"))) }
                    return brokeBeforeAnswer(.broken(function: "recv", errno: 0), attempt)
                case .nothingYet:
                    let waited = attempt
                    let outcome = exchange.waitForReadable(connection.fd, timeoutMilliseconds: settings.readTimeoutMilliseconds) { wake in
                        let ending: Ending
                        switch wake {
                        case .readable: ending = receiveHead(waited)
                        case .timedOut:
                            waited.connection.close()
                            ending = .finished(fail(.timedOut(milliseconds: settings.readTimeoutMilliseconds)))
                        }
                        return conclude(ending, upstream: waited.upstream, upgrade: waited.upgrade)
                    }
                    return .waiting(outcome)
                }
            }
        }
    }

    /// The app's connection broke before any byte of an answer: a kept-alive one it may have
    /// closed meanwhile is retried on a new one when the request allows.
    private func brokeBeforeAnswer(_ failure: UpstreamFailure, _ attempt: Attempt) -> Ending {
        attempt.connection.close()
        if attempt.connection.reused && attempt.mayRetry && !attempt.connection.receivedAny { return .retry }
        return .finished(fail(failure))
    }

    /// The final answer's head is in: an upgrade becomes a relay, anything else streams back.
    private func answer(_ response: ResponseHead, _ attempt: Attempt) -> Ending {
        let connection = attempt.connection
        if response.status == 101 {
            guard attempt.upgrade else { return .finished(fail(.malformed("101 Switching Protocols to a request that asked for no upgrade"))) }
            return .upgraded(UpgradedConnection.start(exchange: exchange, upstream: connection, response: response,
                                                     requestID: requestID, app: app, held: attempt.upstream, access: access))
        }
        return .finished(relay(response, from: connection, to: attempt.upstream, bodySent: attempt.bodySent && !attempt.upgrade))
    }

    /// An idle connection to the app, looked at first (a poll) unless the request may be retried
    /// and the connection was idle for less than `unprobedIdleMilliseconds`: under load that
    /// look was a system call per request, and a connection the app closed meanwhile fails that
    /// request before any answer, which the retry covers. nginx does not look either; it closes
    /// an idle connection when its epoll says the app closed it.
    private func nextIdleConnection(to upstream: Upstream, mayRetry: Bool,
                                    taken: (fd: Int32, idleMilliseconds: Int)?) -> UpstreamConnection? {
        // None came with the upstream: the pool was empty a moment ago, so no second look.
        var next = taken
        while let idle = next {
            let probe = !mayRetry || idle.idleMilliseconds >= Self.unprobedIdleMilliseconds
            if let connection = UpstreamConnection.idle(idle.fd, probe: probe) { return connection }
            next = app.live.takeIdleConnection(to: upstream)
        }
        return nil
    }

    /// Idle for longer, a connection is looked at before use whatever the request: an app that
    /// closes idle connections does so after seconds (Node after 5 s), and one that announces the
    /// close with bytes of its own (a 408) must not have them read as this request's answer.
    private static let unprobedIdleMilliseconds = 1_000

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
        var head = ProxyHeaders.clientResponse(response, framing: framing, clientFraming: clientFraming, keepAlive: keepAlive,
                                               http10Client: http10, requestID: requestID, upgrade: false,
                                               hsts: settings.forwardedProto == "https" && app.live.sendsHSTS)
        // The part of a body of known length that came with the head goes out with it: one send
        // for a small answer, where head and body were two.
        var rest = framing
        if case .contentLength(let length) = framing, connection.buffered > 0 {
            let take = min(length, connection.buffered)
            head.append(contentsOf: connection.input[connection.consumed..<connection.consumed + take])
            connection.consumed += take
            rest = .contentLength(length - take)
        }
        let reusable = bodySent && response.keepsAlive && framing != .untilClose
        // With the whole answer in hand, the app's connection goes back to the pool before the
        // client is written to, so the client's next request finds it there; and the container
        // is needed no more, so the upstream is let go too (one lock for both).
        let inHand = rest == .none || rest == .contentLength(0)
        if inHand {
            app.live.release(upstream, keepingIdle: keepable(connection, reusable: reusable))
        }
        do {
            try exchange.write(head)
        } catch {
            return Served(outcome: exchange.abandon(), status: response.status, released: inHand)
        }
        guard !inHand else { return Served(outcome: exchange.finish(keepAlive: keepAlive), status: response.status, released: true) }
        var body = ResponseBodyStream(exchange: exchange, connection: connection, chunkedToClient: clientFraming == .chunked,
                                      readTimeoutMilliseconds: settings.readTimeoutMilliseconds)
        switch body.copy(rest) {
        case .complete:
            break
        case .upstreamBroke:
            connection.close()
            return Served(outcome: exchange.abandon(), status: response.status, upstreamFailed: true)
        case .clientGone:
            connection.close()
            return Served(outcome: exchange.abandon(), status: response.status)
        }
        app.live.release(upstream, keepingIdle: keepable(connection, reusable: reusable))
        return Served(outcome: exchange.finish(keepAlive: keepAlive), status: response.status, released: true)
    }

    /// After its answer, the connection's socket to keep for the next request when it may carry
    /// one and nothing past the answer came on it; else it is closed, and nil.
    private func keepable(_ connection: UpstreamConnection, reusable: Bool) -> Int32? {
        if reusable && connection.buffered == 0 { return connection.release() }
        connection.close()
        return nil
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
