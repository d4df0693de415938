import Glibc
import SlipwaySystem

/// What the server sends on `fd` until it closes, `marker` has arrived `count` times, or 5 s
/// pass: the tests' one way of reading an answer off a plain socket.
func readAnswer(_ fd: Int32, until marker: String? = nil, count: Int = 1) -> String {
    var received = [UInt8]()
    let deadline = monotonicMilliseconds() + 5000
    var chunk = [UInt8](repeating: 0, count: 65536)
    while monotonicMilliseconds() < deadline {
        if let marker, String(decoding: received, as: UTF8.self).components(separatedBy: marker).count > count { break }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 50) > 0 else { continue }
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        received += chunk[0..<n]
    }
    return String(decoding: received, as: UTF8.self)
}
