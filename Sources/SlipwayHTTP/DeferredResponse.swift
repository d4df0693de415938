import Synchronization

/// A response a handler cannot give yet, because it waits for work done elsewhere (a webhook
/// delivery waits for its batch to commit). Its connection is set aside, holding no worker,
/// and a worker serves it again once the response is ready.
public final class DeferredResponse: Sendable {
    public typealias Maker = @Sendable () throws -> HTTPResponse

    private enum State {
        case pending
        case waiting(@Sendable () -> Void)
        case ready(Maker)
        case taken
    }

    private let state = Mutex(State.pending)

    public init() {}

    /// Called once by the producer, from any thread. `make` runs later on a worker, so it may
    /// do what a handler does, and throw what a handler throws.
    public func fulfil(_ make: @escaping Maker) {
        let callback = state.withLock { state -> (@Sendable () -> Void)? in
            switch state {
            case .pending:
                state = .ready(make)
                return nil
            case .waiting(let callback):
                state = .ready(make)
                return callback
            case .ready, .taken:
                preconditionFailure("a deferred response was fulfilled twice")
            }
        }
        callback?()
    }

    /// Called once by the connection: `ready` runs when the response can be made, at once if
    /// it already can.
    public func whenReady(_ ready: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            switch state {
            case .pending:
                state = .waiting(ready)
                return false
            case .ready:
                return true
            case .waiting, .taken:
                preconditionFailure("a deferred response was awaited twice")
            }
        }
        if now { ready() }
    }

    /// The maker, once ready; nil before.
    public func take() -> Maker? {
        state.withLock { state in
            guard case .ready(let make) = state else { return nil }
            state = .taken
            return make
        }
    }
}
