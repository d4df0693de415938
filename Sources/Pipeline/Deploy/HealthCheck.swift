import CSystem
import FoundationEssentials
import Glibc
import SlipwaySystem

/// Waits for a new container to answer its health check path with a status below 500.
public enum HealthCheck {
    public enum Outcome: Equatable {
        case healthy(status: Int)
        case exited(ContainerState)
        case timedOut(lastProblem: String)
        case cancelled
    }

    /// One GET; the status code, or nil when nothing answered.
    public static func probe(host: String = "127.0.0.1", port: Int, path: String, timeoutMilliseconds: Int = 2000) -> Int? {
        guard let fd = try? Socket.connect(ipv4: host, port: port, timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        defer { close(fd) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUser-Agent: slipway-health-check\r\nConnection: close\r\n\r\n".utf8)
        var offset = 0
        let deadline = monotonicMilliseconds() + timeoutMilliseconds
        while offset < request.count {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + offset, request.count - offset, Int32(MSG_NOSIGNAL)) }
            if n > 0 { offset += n; continue }
            if n < 0 && errno == EAGAIN, (try? Socket.wait(fd, events: Int16(POLLOUT), timeoutMilliseconds: deadline - monotonicMilliseconds())) == .ready { continue }
            return nil
        }
        var response = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1024)
        while !response.contains(0x0a) && response.count < 4096 {
            let remaining = deadline - monotonicMilliseconds()
            guard remaining > 0, (try? Socket.wait(fd, events: Int16(POLLIN), timeoutMilliseconds: remaining)) == .ready else { return nil }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response.append(contentsOf: chunk[0..<n])
        }
        // "HTTP/1.x NNN ..."
        let line = String(decoding: response.prefix { $0 != 0x0d && $0 != 0x0a }, as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let code = Int(parts[1]) else { return nil }
        return code
    }

    /// Polls until healthy, exited, cancelled or the deadline. Probes start 20 ms apart and back
    /// off to 250 ms: most apps answer within a few tens of milliseconds of starting, and a fixed
    /// quarter second was most of a warm deployment's overhead (BENCHMARKS.md, deploy overhead).
    public static func wait(host: String = "127.0.0.1", port: Int, path: String, timeoutSeconds: Double, containerState: () -> ContainerState?,
                            cancellation: Cancellation?, log: DeploymentLog) -> Outcome {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var lastProblem = "no answer"
        var attempt = 0
        var interval: UInt32 = 20_000
        var lastStateCheck = Date()
        while Date() < deadline {
            if cancellation?.isCancelled == true { return .cancelled }
            if let status = probe(host: host, port: port, path: path) {
                if status < 500 { return .healthy(status: status) }
                lastProblem = "answered \(status)"
            } else {
                lastProblem = "no answer"
            }
            attempt += 1
            // The container's state costs a docker call, so it is asked only after failed probes,
            // at most twice a second; "restarting" means it already exited once, which is a
            // failure even though docker will try again.
            if Date().timeIntervalSince(lastStateCheck) >= 0.5 || attempt == 3 {
                lastStateCheck = Date()
                if let state = containerState(), state.status != .running && state.status != .created {
                    return .exited(state)
                }
            }
            if attempt % 40 == 0 { log.output("health check: still waiting (\(lastProblem))") }
            usleep(interval)
            interval = min(interval * 2, 250_000)
        }
        return .timedOut(lastProblem: lastProblem)
    }
}
