import SlipwaySystem

/// What a deployment says when git fails: git's own diagnosis, and what Slipway's settings
/// mean for it when git's words alone would puzzle.
enum GitFailureReason {
    static func from(output: String) -> String {
        // git's diagnosis is its "fatal:" line; the lines after it are advice.
        let lines = output.split(separator: "\n").map { $0.trimmingWhitespace() }
        let reason = lines.first { $0.hasPrefix("fatal:") } ?? lines.first { $0.hasPrefix("error:") } ?? lines.last ?? ""
        if let status = redirectStatus(in: reason) {
            return reason + " (the server answered with a redirect, HTTP \(status); Slipway does not follow redirects, "
                + "so that no server can send the clone and its token elsewhere: set repo_url to the address it redirects to)"
        }
        return reason
    }

    /// curl's words when http.followRedirects=false meets a 3xx: "The requested URL returned error: 301".
    static func redirectStatus(in line: String) -> Int? {
        let marker = "The requested URL returned error: "
        guard let range = line.firstOccurrence(of: marker) else { return nil }
        let code = Int(line[range.upperBound...].prefix(3))
        return code.flatMap { [301, 302, 303, 307, 308].contains($0) ? $0 : nil }
    }
}
