import Glibc

/// Monotonic milliseconds, for deadlines that wall-clock changes cannot disturb.
public func monotonicMilliseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}

/// Monotonic microseconds, for durations measured finer than a millisecond (the access log's).
public func monotonicMicroseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1_000_000 + ts.tv_nsec / 1_000
}
