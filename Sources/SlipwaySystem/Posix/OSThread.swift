import CSystem
import Glibc

/// Detached POSIX threads for work that blocks for long (connections, deployments, sleeps), so
/// it never occupies the Swift concurrency pool. Foundation's Thread did this before; it is not
/// in FoundationEssentials, and these few lines are all of it that Slipway used.
public enum OSThread {
    /// Runs `body` on a new detached thread named `name` (ps and top show its first 15 bytes).
    /// With no `stackSize` the thread gets the system default, as Foundation's Thread gave it;
    /// threads that exist by the thousand ask for less. Returns false, without running `body`,
    /// when the system refuses a thread: Foundation's Thread then silently did nothing too.
    @discardableResult
    public static func detach(name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) -> Bool {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        // Foundation capped stack sizes at 1 GB; kept, so no caller can ask for more than before.
        if let stackSize { pthread_attr_setstacksize(&attributes, min(stackSize, 1 << 30)) }
        let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attributes, { context in
            Unmanaged<Start>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, start)
        if rc != 0 {
            Unmanaged<Start>.fromOpaque(start).release()
            return false
        }
        return true
    }

    private final class Start: Sendable {
        let name: String
        let body: @Sendable () -> Void

        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }

        func run() {
            // Longer names make pthread_setname_np fail outright, so they are cut instead.
            let bytes = name.utf8.prefix(15).map { CChar(bitPattern: $0) } + [0]
            _ = pthread_setname_np(pthread_self(), bytes)
            body()
        }
    }
}
