import Synchronization

/// Whether the server is shutting down: set once by the server, read by its pool and each
/// connection (a kept-alive connection closes after its current request). The connections
/// hold this, not the server, so ownership runs one way: server → pool → connection.
final class ShutdownFlag: Sendable {
    private let raised = Atomic<Bool>(false)

    init() {}

    var isRaised: Bool { raised.load(ordering: .acquiring) }

    func raise() { raised.store(true, ordering: .releasing) }
}
