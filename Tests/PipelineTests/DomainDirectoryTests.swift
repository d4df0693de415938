import Foundation
import SlipwaySystem
import XCTest
@testable import Pipeline

final class DomainDirectoryTests: XCTestCase {
    func testStartsEmptyAndEachPublicationMovesTheVersion() {
        let directory = DomainDirectory()
        XCTAssertEqual(directory.version, 0)
        XCTAssertNil(directory.resolve(host: "example.com"))

        directory.publish(DomainTable([("example.com", 1), ("*.example.com", 2)]))
        XCTAssertEqual(directory.version, 1)
        let first = directory.snapshot
        XCTAssertEqual(first.version, 1)
        XCTAssertEqual(first.table.resolve(host: "Example.com:80"), 1)
        XCTAssertEqual(directory.resolve(host: "www.example.com"), 2)

        directory.publish(DomainTable([("example.org", 3)]))
        XCTAssertEqual(directory.version, 2)
        XCTAssertNil(directory.resolve(host: "example.com"))
        XCTAssertEqual(first.table.resolve(host: "example.com"), 1, "a snapshot taken earlier is not changed under its reader")
    }

    /// Readers racing publications always find a snapshot at least as new as the version they read.
    func testAReaderNeverSeesAVersionAheadOfItsSnapshot() {
        let directory = DomainDirectory()
        let publications = 2_000
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            if worker == 0 {
                for i in 1...publications { directory.publish(DomainTable([("n\(i).example.com", i)])) }
            } else {
                var seen = 0
                while seen < publications {
                    let version = directory.version
                    let snapshot = directory.snapshot
                    XCTAssertGreaterThanOrEqual(snapshot.version, version)
                    XCTAssertEqual(snapshot.table.resolve(host: "n\(snapshot.version).example.com"), snapshot.version == 0 ? nil : snapshot.version)
                    seen = version
                }
            }
        }
    }
}
