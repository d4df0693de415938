import SlipwaySystem
import Synchronization

/// One app's traffic totals since the server started: requests by status class, bytes each way,
/// and upstream errors. Atomics rather than a lock: every finished request adds to them from
/// whichever edge worker served it, and readers (the API, the app page) need no consistent cut.
public final class AccessCounters: Sendable {
    /// What the API shows. Plain integers, so it encodes to JSON as it is.
    public struct Snapshot: Sendable, Equatable {
        /// Requests answered, by status class; every class present, zero included.
        public var requests: [StatusClass: Int]
        /// Request body bytes received from clients.
        public var bytesIn: Int
        /// Bytes sent to clients, heads included.
        public var bytesOut: Int
        /// Requests the container could not answer whole (`AccessRecord.upstreamFailed`).
        public var upstreamErrors: Int

        public static let zero = Snapshot(requests: Dictionary(uniqueKeysWithValues: StatusClass.allCases.map { ($0, 0) }),
                                          bytesIn: 0, bytesOut: 0, upstreamErrors: 0)

        public var totalRequests: Int { requests.values.reduce(0, +) }
    }

    // One atomic per class: Atomic is not copyable, so it cannot live in an array.
    private let informational = Atomic<Int>(0)
    private let success = Atomic<Int>(0)
    private let redirection = Atomic<Int>(0)
    private let clientError = Atomic<Int>(0)
    private let serverError = Atomic<Int>(0)
    private let bytesIn = Atomic<Int>(0)
    private let bytesOut = Atomic<Int>(0)
    private let upstreamErrors = Atomic<Int>(0)
    /// How long requests took, for /metrics. A lock of its own, held for a few additions.
    private let latency = Mutex(Histogram(bounds: AccessCounters.latencyBounds))
    /// Seconds, from a cached answer on loopback to a slow app.
    public static let latencyBounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public init() {}

    public var latencySnapshot: Histogram { latency.withLock { $0 } }

    public func add(_ record: AccessRecord) {
        if let statusClass = StatusClass(status: record.status) {
            count(statusClass)
        }
        bytesIn.wrappingAdd(record.bytesReceived, ordering: .relaxed)
        bytesOut.wrappingAdd(record.bytesSent, ordering: .relaxed)
        if record.upstreamFailed { upstreamErrors.wrappingAdd(1, ordering: .relaxed) }
        let seconds = Double(record.durationMicroseconds) / 1_000_000
        latency.withLock { $0.observe(seconds) }
    }

    public func snapshot() -> Snapshot {
        var requests: [StatusClass: Int] = [:]
        for statusClass in StatusClass.allCases {
            requests[statusClass] = load(statusClass)
        }
        return Snapshot(requests: requests, bytesIn: bytesIn.load(ordering: .relaxed),
                        bytesOut: bytesOut.load(ordering: .relaxed), upstreamErrors: upstreamErrors.load(ordering: .relaxed))
    }

    private func count(_ statusClass: StatusClass) {
        switch statusClass {
        case .informational: informational.wrappingAdd(1, ordering: .relaxed)
        case .success: success.wrappingAdd(1, ordering: .relaxed)
        case .redirection: redirection.wrappingAdd(1, ordering: .relaxed)
        case .clientError: clientError.wrappingAdd(1, ordering: .relaxed)
        case .serverError: serverError.wrappingAdd(1, ordering: .relaxed)
        }
    }

    private func load(_ statusClass: StatusClass) -> Int {
        switch statusClass {
        case .informational: informational.load(ordering: .relaxed)
        case .success: success.load(ordering: .relaxed)
        case .redirection: redirection.load(ordering: .relaxed)
        case .clientError: clientError.load(ordering: .relaxed)
        case .serverError: serverError.load(ordering: .relaxed)
        }
    }
}
