import Edge
import SlipwaySystem

/// The API's JSON shape of one request through the edge. The path has no query string, and
/// what the client sent is escaped (`AccessText`), so it is safe to show as it is.
enum AccessRecordJSON {
    static func encode(_ record: AccessRecord) -> JSON {
        .object([
            ("time", .string(Timestamp.format(record.time))),
            ("method", .string(record.method)),
            ("path", .string(record.path)),
            ("status", .from(record.status)),
            ("bytes", .from(record.bytesSent)),
            ("duration_ms", .from(record.durationMilliseconds)),
            ("deployment_id", .from(record.deploymentID)),
            ("request_id", .string(record.requestID)),
        ])
    }
}
