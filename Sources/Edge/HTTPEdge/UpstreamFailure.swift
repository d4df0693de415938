import Glibc

/// Why a proxied request did not get its answer from the app, each with what the client is told.
enum UpstreamFailure: Error, CustomStringConvertible {
    /// No address of the container took the connection (502).
    case connect(errno: Int32)
    /// The connection failed while the request went out, or before a byte of the answer came
    /// back (502). `errno` is 0 for an orderly close.
    case broken(function: String, errno: Int32)
    /// Nothing came back within the read timeout (504).
    case timedOut(milliseconds: Int)
    /// The app's answer is not HTTP the edge can forward (502).
    case malformed(String)

    var status: Int {
        if case .timedOut = self { return 504 }
        return 502
    }

    var description: String {
        switch self {
        case .connect(let code): return "connect failed: \(String(cString: strerror(code)))"
        case .broken(let function, 0): return "\(function): the app closed the connection"
        case .broken(let function, let code): return "\(function) failed: \(String(cString: strerror(code)))"
        case .timedOut(let ms): return "no answer within \(ms / 1000) s"
        case .malformed(let reason): return reason
        }
    }
}
