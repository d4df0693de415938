import Edge
import SlipwaySystem

/// The API's JSON shape of an app's traffic through the HTTP edge (`traffic` in the app JSON),
/// counted in memory since the server started:
///
///     {"requests": {"1xx": 0, "2xx": 12, "3xx": 1, "4xx": 2, "5xx": 0}, "requests_total": 15,
///      "bytes_in": 2048, "bytes_out": 90112, "upstream_errors": 0}
///
/// bytes_in counts request bodies received, bytes_out everything sent (heads too); an upstream
/// error is a request the container could not answer whole (the edge's 502 and 504, and
/// responses cut off), never an app's own 5xx.
enum TrafficJSON {
    static func encode(_ counters: AccessCounters.Snapshot) -> JSON {
        .object([
            ("requests", .object(StatusClass.allCases.map { ($0.rawValue, .from(counters.requests[$0] ?? 0)) })),
            ("requests_total", .from(counters.totalRequests)),
            ("bytes_in", .from(counters.bytesIn)),
            ("bytes_out", .from(counters.bytesOut)),
            ("upstream_errors", .from(counters.upstreamErrors)),
        ])
    }
}
