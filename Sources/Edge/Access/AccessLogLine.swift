import SlipwaySystem

/// The access log file's line, one per request, fields separated by single spaces:
///
///     2026-12-02T00:52:46.123Z GET /orders/17 200 5120 12.345 42 9f86d081884c7d65
///     time                     method path  status bytes duration_ms deployment request_id
///
/// - time: when the head arrived, ISO 8601 UTC with milliseconds (sorts as text);
/// - path: without query string or fragment, escaped as nginx escapes its log (`\xHH`), so
///   no field holds a space;
/// - bytes: sent to the client, head included (nginx's $bytes_sent);
/// - duration_ms: head received to last byte sent, with microseconds;
/// - deployment: the id of the deployment whose container answered, `-` when none did;
/// - request_id: the X-Request-Id, `-` when there was none.
///
/// nginx's combined format quotes the request line and adds referrer and user agent; those are
/// the client's text, long, and not what a deploy server's log is read for.
public enum AccessLogLine {
    public static func format(_ record: AccessRecord) -> String {
        let micros = record.durationMicroseconds
        let duration = String(micros / 1000) + "." + String(micros % 1000, zeroPaddedTo: 3)
        return Timestamp.format(record.time) + " " + record.method + " " + record.path + " " + String(record.status)
            + " " + String(record.bytesSent) + " " + duration + " " + (record.deploymentID.map(String.init) ?? "-")
            + " " + (record.requestID.isEmpty ? "-" : record.requestID) + "\n"
    }
}
