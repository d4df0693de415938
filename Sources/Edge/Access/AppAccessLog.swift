/// Everything kept about one app's requests: the ring the page and API show, the counters in the
/// app JSON, and the file on disk (none when the registry has no directory).
public final class AppAccessLog: Sendable {
    public let appID: Int
    public let name: String
    public let ring: AccessRing
    public let counters: AccessCounters
    public let file: AccessLogFile?

    public init(appID: Int, name: String, ring: AccessRing, counters: AccessCounters = AccessCounters(), file: AccessLogFile?) {
        self.appID = appID
        self.name = name
        self.ring = ring
        self.counters = counters
        self.file = file
    }

    /// One finished request: O(1), no disk, no allocation beyond the file's queue.
    public func record(_ record: AccessRecord) {
        ring.append(record)
        counters.add(record)
        file?.append(record)
    }
}
