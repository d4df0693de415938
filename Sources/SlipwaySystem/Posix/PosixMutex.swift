import Glibc

/// A lock over a plain pthread mutex, for state that many threads contend for.
///
/// Synchronization's Mutex spins in user space before it sleeps; with fifty connection threads
/// queueing for the one SQLite connection on two cores, the spinning took an eighth of the
/// server's CPU time (perf, benchmark 4) from the threads that held the lock. glibc's default
/// mutex sleeps in the kernel at once.
///
/// @unchecked Sendable: the pthread mutex is heap-allocated (never moved), initialized once and
/// destroyed in deinit, and the value it guards is only reached between lock and unlock.
public final class PosixMutex<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
