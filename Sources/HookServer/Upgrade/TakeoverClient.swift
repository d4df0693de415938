import Glibc
import SlipwaySystem

/// The new process's side of a seamless upgrade (`serve --takeover`): asks the running Slipway
/// of the same data directory for its listening sockets (kept in `InheritedListeners`, where
/// `Socket.listen` finds them), says when it serves on them, and waits to be told that the old
/// process has stopped accepting and its background work.
final class TakeoverClient: Sendable {
    private let channel: LocalChannel

    /// Blocks until the running process has handed its sockets over: it lets its running
    /// deployments finish first.
    init(dataDir: String) throws(TakeoverError) {
        let path = TakeoverMessage.socketPath(dataDir: dataDir)
        do {
            channel = try LocalChannel.connect(path: path)
        } catch {
            throw TakeoverError(message: "no running Slipway to take over at \(path): \(error)")
        }
        do {
            try channel.send("\(TakeoverMessage.takeover) pid=\(getpid())")
        } catch {
            throw TakeoverError(message: "cannot ask the running Slipway to hand over: \(error)")
        }
        Log.info("upgrade: waiting for the running Slipway to hand over (it lets running deployments finish first)")
        let reply: LocalChannel.Message?
        do {
            reply = try channel.receive()
        } catch {
            throw TakeoverError(message: "no answer from the running Slipway: \(error)")
        }
        guard let reply else { throw TakeoverError(message: "the running Slipway closed the connection without handing over") }
        if reply.text.hasPrefix(TakeoverMessage.refused) {
            reply.descriptors.forEach { _ = close($0) }
            throw TakeoverError(message: "the running Slipway refused to hand over: \(reply.text.dropFirst(TakeoverMessage.refused.count))")
        }
        guard let listeners = HandedListener.parse(reply.text, descriptors: reply.descriptors) else {
            reply.descriptors.forEach { _ = close($0) }
            throw TakeoverError(message: "the running Slipway answered something else than its listening sockets")
        }
        for listener in listeners {
            InheritedListeners.shared.add(host: listener.host, port: listener.port, fd: listener.fd)
        }
        Log.info("upgrade: took over \(listeners.count) listening sockets")
    }

    /// Serving now: the old process stops accepting and its background work. Returns once it
    /// says so (or has gone); false when it could not be told, which means it serves on.
    func ready() -> Bool {
        do {
            try channel.send(TakeoverMessage.ready)
        } catch {
            Log.error("upgrade: cannot tell the old process that this one is ready: \(error)")
            return false
        }
        // The old process stops accepting at once; its relays drain after it answers.
        let answer = try? channel.receive(timeoutMilliseconds: 60_000)
        answer?.descriptors.forEach { _ = close($0) }
        if answer?.text != TakeoverMessage.released {
            Log.warning("upgrade: the old process did not confirm that it stopped; going on")
        }
        return true
    }
}

/// Why `serve --takeover` could not take over.
struct TakeoverError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
