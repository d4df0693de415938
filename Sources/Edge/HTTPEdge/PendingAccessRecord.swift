import FoundationEssentials
import SlipwaySystem

/// The access record of a request the edge is proxying, begun when it is dispatched (just after
/// its head arrived) and completed once, when the request ends: what only the start knows (the
/// time, the request line, the id) waits here for what only the end knows (status, bytes).
///
/// A value, so a WebSocket's record can travel to the relay thread and be completed at the close.
struct PendingAccessRecord: Sendable {
    let log: AppAccessLog?
    let time: Date
    let startMicroseconds: Int
    let method: String
    let target: String
    let requestID: String

    init(log: AppAccessLog?, method: String, target: String, requestID: String) {
        self.log = log
        time = Date()
        startMicroseconds = monotonicMicroseconds()
        self.method = method
        self.target = target
        self.requestID = requestID
    }

    /// Records the finished request in the app's log (ring, counters, file).
    func finish(status: Int, bytesReceived: Int, bytesSent: Int, deploymentID: Int?, upstreamFailed: Bool) {
        guard let log else { return }
        log.record(AccessRecord(time: time, method: method, target: target, status: status, bytesReceived: bytesReceived,
                                bytesSent: bytesSent, durationMicroseconds: monotonicMicroseconds() - startMicroseconds,
                                deploymentID: deploymentID, requestID: requestID, upstreamFailed: upstreamFailed))
    }
}
