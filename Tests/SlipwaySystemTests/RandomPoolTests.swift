import XCTest
@testable import SlipwaySystem

/// The pool hands out the kernel's bytes once each, across refills.
final class RandomPoolTests: XCTestCase {
    func testPiecesAreNeverRepeatedAcrossRefills() {
        let pool = RandomPool()
        var seen = Set<[UInt8]>()
        // Three refills' worth of 16-byte pieces: a repeat would mean a byte handed out twice.
        for _ in 0..<(3 * RandomPool.refillBytes / 16 + 5) {
            var piece = [UInt8](repeating: 0, count: 16)
            piece.withUnsafeMutableBytes { pool.fill($0) }
            XCTAssertTrue(seen.insert(piece).inserted)
        }
        var zeros = 0
        for piece in seen { zeros += piece.filter { $0 == 0 }.count }
        // About 1 byte in 256 is zero; an unfilled piece would be all zeros.
        XCTAssertLessThan(zeros, seen.count * 16 / 32)
    }

    func testAPieceLargerThanWhatIsLeftTriggersARefill() {
        let pool = RandomPool()
        var small = [UInt8](repeating: 0, count: 4000)
        small.withUnsafeMutableBytes { pool.fill($0) }
        var large = [UInt8](repeating: 0, count: RandomPool.refillBytes)
        large.withUnsafeMutableBytes { pool.fill($0) }
        XCTAssertGreaterThan(Set(large).count, 200, "a whole refill, not the 96 bytes left of the first")
    }
}
