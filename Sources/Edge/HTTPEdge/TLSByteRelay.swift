import CSystem
import Glibc
import SlipwayTLS

/// An upgraded connection (a WebSocket) on the HTTPS edge, relayed both ways until both have
/// ended: the client's side through its TLS session, the app's plain. `ByteRelay` splices plain
/// sockets in the kernel; here every byte must be decrypted or encrypted, so it goes through a
/// buffer. On a thread of its own, as `ByteRelay.pump` is.
///
/// The client's socket stays non-blocking (OpenSSL may need to read while writing, and the
/// other way round); the app's is blocking. A half-close is passed along: the client's
/// close_notify (or TCP end) becomes the app's write shutdown, the app's end becomes close_notify.
enum TLSByteRelay {
    static let bufferSize = 16 * 1024

    /// Returns when both directions have ended, on an error, or after `idleMilliseconds` of
    /// silence, with the bytes delivered each way (`fromClient` and `fromApp` included).
    static func pump(client: TLSSession, clientFD: Int32, app appFD: Int32, fromClient: [UInt8], fromApp: [UInt8],
                     idleMilliseconds: Int32 = 300_000) -> (toApp: Int, toClient: Int) {
        var toApp = 0
        var toClient = 0
        guard fromClient.isEmpty || fromClient.withUnsafeBytes({ ByteRelay.sendAll(appFD, $0.baseAddress!, $0.count) }) else { return (0, 0) }
        toApp += fromClient.count
        guard fromApp.isEmpty || fromApp.withUnsafeBytes({ writeAll(client, clientFD, $0, idleMilliseconds) }) else { return (toApp, 0) }
        toClient += fromApp.count
        var clientOpen = true
        var appOpen = true
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        while clientOpen || appOpen {
            // Bytes OpenSSL already holds are read before waiting: the socket may have nothing more.
            if clientOpen && !client.hasBufferedInput {
                var fds = [pollfd(fd: clientFD, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: appOpen ? appFD : -1, events: Int16(POLLIN), revents: 0)]
                let n = poll(&fds, 2, idleMilliseconds)
                if n < 0 { if errno == EINTR { continue }; break }
                if n == 0 { break }
                if fds[1].revents != 0 { guard relayFromApp(&appOpen, &toClient) else { break } }
                if fds[0].revents != 0 { guard relayFromClient(&clientOpen, &toApp) else { break } }
            } else if clientOpen {
                guard relayFromClient(&clientOpen, &toApp) else { break }
            } else {
                var fds = [pollfd(fd: appFD, events: Int16(POLLIN), revents: 0)]
                let n = poll(&fds, 1, idleMilliseconds)
                if n < 0 { if errno == EINTR { continue }; break }
                if n == 0 { break }
                guard relayFromApp(&appOpen, &toClient) else { break }
            }
        }
        return (toApp, toClient)

        /// Decrypts what the client sent and sends it to the app; false on an error.
        func relayFromClient(_ open: inout Bool, _ delivered: inout Int) -> Bool {
            while true {
                let result: TLSSession.ReadResult
                do { result = try client.read(into: buffer) } catch { return false }
                switch result {
                case .bytes(let count):
                    guard ByteRelay.sendAll(appFD, buffer.baseAddress!, count) else { return false }
                    delivered += count
                    if !client.hasBufferedInput { return true }
                case .waiting:
                    return true
                case .closed:
                    shutdown(appFD, Int32(SHUT_WR))
                    open = false
                    return true
                }
            }
        }

        /// Reads what the app sent and encrypts it to the client; false on an error.
        func relayFromApp(_ open: inout Bool, _ delivered: inout Int) -> Bool {
            let count = recv(appFD, buffer.baseAddress, buffer.count, 0)
            if count < 0 { return errno == EINTR || errno == EAGAIN }
            if count == 0 {
                client.shutdown()
                open = false
                return true
            }
            guard writeAll(client, clientFD, UnsafeRawBufferPointer(rebasing: buffer[0..<count]), idleMilliseconds) else { return false }
            delivered += count
            return true
        }
    }

    /// Encrypts all of `bytes` to the client, waiting for the socket as OpenSSL asks; false on an
    /// error or when the client does not read for `timeout`.
    private static func writeAll(_ session: TLSSession, _ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ timeout: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let result: TLSSession.WriteResult
            do { result = try session.write(UnsafeRawBufferPointer(rebasing: bytes[offset...])) } catch { return false }
            switch result {
            case .wrote(let count):
                offset += count
            case .waiting(let want):
                var fds = [pollfd(fd: fd, events: Int16(want == .read ? POLLIN : POLLOUT), revents: 0)]
                guard poll(&fds, 1, timeout) > 0 else { return false }
            }
        }
        return true
    }
}
