/// A Prometheus histogram's state: cumulative counts at fixed upper bounds, the sum and the count.
public struct Histogram: Sendable, Equatable {
    public let bounds: [Double]
    /// Observations at or under each bound (not cumulative here; the text writer sums them).
    public private(set) var counts: [Int]
    public private(set) var sum: Double = 0
    public private(set) var count: Int = 0

    public init(bounds: [Double]) {
        self.bounds = bounds
        self.counts = Array(repeating: 0, count: bounds.count)
    }

    public mutating func observe(_ value: Double) {
        if let index = bounds.firstIndex(where: { value <= $0 }) { counts[index] += 1 }
        sum += value
        count += 1
    }

    /// The cumulative count at each bound, then +Inf (the total).
    public var cumulative: [Int] {
        var running = 0
        return counts.map { running += $0; return running }
    }
}
