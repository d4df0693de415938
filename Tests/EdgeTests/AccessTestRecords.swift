import FoundationEssentials
@testable import Edge

/// Records for the access log tests, numbered so order and identity are easy to assert.
enum AccessTestRecords {
    static let epoch = Date(timeIntervalSince1970: 1_764_636_766.123)

    static func make(_ n: Int, status: Int = 200, path: String? = nil, bytesIn: Int = 0, bytesOut: Int = 100,
                     deploymentID: Int? = 7, upstreamFailed: Bool = false) -> AccessRecord {
        AccessRecord(time: epoch.addingTimeInterval(Double(n)), method: "GET", target: path ?? "/r/\(n)", status: status,
                     bytesReceived: bytesIn, bytesSent: bytesOut, durationMicroseconds: 12_345, deploymentID: deploymentID,
                     requestID: "req-\(n)", upstreamFailed: upstreamFailed)
    }
}
