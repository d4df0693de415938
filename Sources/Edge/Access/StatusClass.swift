/// The class of an HTTP status, the one label the counters split requests by: a small fixed
/// set, as Prometheus's naming guide asks of label values.
public enum StatusClass: String, Sendable, CaseIterable {
    case informational = "1xx"
    case success = "2xx"
    case redirection = "3xx"
    case clientError = "4xx"
    case serverError = "5xx"

    /// The class of `status`; nil for a number outside 100-599, which the edge never sends.
    public init?(status: Int) {
        switch status {
        case 100...199: self = .informational
        case 200...299: self = .success
        case 300...399: self = .redirection
        case 400...499: self = .clientError
        case 500...599: self = .serverError
        default: return nil
        }
    }
}
