import Foundation
import Synchronization
import XCTest
@testable import Edge
import SlipwaySystem

/// A small TCP server on loopback for the forwarder tests: a thread per connection, whose first
/// line says what to do.
///
/// - `ECHO`: sends back every byte after the line until the client half-closes.
/// - `SINK`: reads to the client's half-close, then answers `received <count>` and closes.
/// - `STREAM <bytes> <chunk> <pause µs>`: sends `TestBytes.pattern(bytes)` in sends of `chunk`
///   bytes with a pause after each, then closes.
final class TestUpstream: Sendable {
    let port: Int
    private let listener: Int32
    private let stopped = Atomic<Bool>(false)

    init() throws {
        listener = try Socket.listen(host: "127.0.0.1", port: 0)
        port = Socket.localPort(listener)
        Thread.detachNewThread { [self] in
            while true {
                let fd = accept(listener, nil, nil)
                if fd < 0 {
                    // Closed here, not in stop(), so no accept can reach a descriptor number reused since.
                    if stopped.load(ordering: .acquiring) { close(listener); return }
                    continue
                }
                Thread.detachNewThread {
                    Self.serve(fd)
                    close(fd)
                }
            }
        }
    }

    /// Stops accepting: the shutdown makes the accept thread's accept fail, and it closes the listener.
    func stop() {
        stopped.store(true, ordering: .releasing)
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private static func serve(_ fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var head = [UInt8]()
        while !head.contains(UInt8(ascii: "\n")) {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            head += buffer[0..<n]
        }
        let newline = head.firstIndex(of: UInt8(ascii: "\n"))!
        let words = String(decoding: head[..<newline], as: UTF8.self).split(separator: " ")
        let rest = Array(head[(newline + 1)...])
        switch words.first {
        case "ECHO":
            guard TestBytes.send(fd, rest) else { return }
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                guard TestBytes.send(fd, Array(buffer[0..<n])) else { return }
            }
            shutdown(fd, Int32(SHUT_WR))
        case "SINK":
            var count = rest.count
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                count += n
            }
            _ = TestBytes.send(fd, Array("received \(count)".utf8))
        case "STREAM":
            guard words.count == 4, let total = Int(words[1]), let chunk = Int(words[2]), let pause = UInt32(words[3]) else { return }
            let bytes = TestBytes.pattern(total)
            var offset = 0
            while offset < total {
                let end = min(total, offset + chunk)
                guard TestBytes.send(fd, Array(bytes[offset..<end])) else { return }
                offset = end
                if pause > 0 { usleep(pause) }
            }
        default:
            return
        }
    }
}

/// A client connection that is closed exactly once: closing a descriptor number twice could close
/// one the relay loops (in this same process) have been given since.
final class TestClient {
    let fd: Int32
    private var open = true

    init(port: Int) throws {
        fd = try TestBytes.connect(port: port)
    }

    deinit { close() }

    func close() {
        if open { Glibc.close(fd) }
        open = false
    }
}

/// Blocking socket helpers for the tests' clients.
enum TestBytes {
    /// Deterministic bytes that differ from one offset to the next, so a lost or repeated chunk shows.
    static func pattern(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 13) }
    }

    /// A blocking client connection to 127.0.0.1:port whose reads give up after 10 s, so a test
    /// fails instead of hanging.
    static func connect(port: Int) throws -> Int32 {
        let fd = try Socket.connect(ipv4: "127.0.0.1", port: port, timeoutMilliseconds: 2000)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.isEmpty || bytes.withUnsafeBytes { ByteRelay.sendAll(fd, $0.baseAddress!, $0.count) }
    }

    /// Exactly `count` bytes, or fewer if the stream ends or a read times out.
    static func read(_ fd: Int32, count: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(min(count, 1 << 20))
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while out.count < count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, count - out.count), 0) }
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return out
    }

    /// Everything until the end of the stream (or a read times out).
    static func readToEnd(_ fd: Int32) -> [UInt8] {
        read(fd, count: Int.max)
    }

    /// Polls `condition` until it holds or `seconds` pass; the result says which.
    static func eventually(within seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = monotonicMilliseconds() + Int(seconds * 1000)
        while !condition() {
            if monotonicMilliseconds() >= deadline { return false }
            usleep(5_000)
        }
        return true
    }
}
