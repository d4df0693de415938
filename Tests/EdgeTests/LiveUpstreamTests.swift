import Foundation
import XCTest
@testable import Edge
import SlipwaySystem

/// The app's live upstream that the forwarder and the HTTP edge share: switches, counts, drains.
final class LiveUpstreamTests: XCTestCase {
    func testASwitchMakesANewGenerationAndReturnsTheOldUpstream() {
        let live = LiveUpstream(appName: "web")
        XCTAssertEqual(live.acquire(), .unavailable(.notDeployed))
        XCTAssertNil(live.setUpstream(port: 9001, direct: ("172.17.0.2", 5000), deploymentID: 7))
        let first = live.current!
        XCTAssertEqual(first.deploymentID, 7)
        XCTAssertEqual(live.setUpstream(port: 9001, direct: ("172.17.0.2", 5000), deploymentID: 7), first, "the same container: nothing changes")
        XCTAssertEqual(live.current, first)
        XCTAssertEqual(live.setUpstream(port: 9002, direct: ("172.17.0.3", 5000), deploymentID: 8), first)
        XCTAssertEqual(live.current!.generation, first.generation + 1)
        XCTAssertEqual(live.current!.deploymentID, 8)
        // Docker may give a freed address to the next deployment's container: still a switch.
        XCTAssertEqual(live.setUpstream(port: 9002, direct: ("172.17.0.3", 5000), deploymentID: 9)?.deploymentID, 8)
        XCTAssertEqual(live.current!.generation, first.generation + 2)
        XCTAssertEqual(live.setUnavailable(.stopped)?.port, 9002)
        XCTAssertEqual(live.acquire(), .unavailable(.stopped))
        XCTAssertEqual(Unavailability.stopped.message(app: live.appName), "web is stopped")
    }

    /// The app's own body limit rides on its live upstream: nil (the server's) unless given, and
    /// a switch of container leaves it as it is.
    func testTheBodyLimitIsTheAppsOwnOrNone() {
        XCTAssertNil(LiveUpstream(appName: "web").maxRequestBody)
        let live = LiveUpstream(appName: "web", maxRequestBody: 1000)
        XCTAssertEqual(live.maxRequestBody, 1000)
        live.setUpstream(port: 9001, deploymentID: 1)
        live.setUnavailable(.stopped)
        XCTAssertEqual(live.maxRequestBody, 1000)
        live.maxRequestBody = 1 << 30
        XCTAssertEqual(live.maxRequestBody, 1 << 30)
        live.maxRequestBody = nil
        XCTAssertNil(live.maxRequestBody)
    }

    func testRequestsAndConnectionsAreCountedAgainstTheGenerationTheyTook() {
        let live = LiveUpstream(appName: "web")
        live.setUpstream(port: 9001, deploymentID: nil)
        guard case .upstream(let old) = live.acquire(), case .upstream = live.acquire() else { return XCTFail("no upstream") }
        live.setUpstream(port: 9002, deploymentID: nil)
        guard case .upstream(let new) = live.acquire() else { return XCTFail("no upstream") }
        XCTAssertNotEqual(new.generation, old.generation, "taken after the switch: the new container")
        XCTAssertEqual(live.inFlight(to: old.generation), 2)
        XCTAssertEqual(live.inFlight(to: new.generation), 1)
        live.release(old)
        live.release(new)
        XCTAssertEqual(live.inFlight(to: old.generation), 1)
        XCTAssertEqual(live.inFlight(to: new.generation), 0)
    }

    func testADrainEndsWhenTheLastHolderReleasesOrAtItsDeadline() {
        let live = LiveUpstream(appName: "web")
        live.setUpstream(port: 9001, deploymentID: nil)
        guard case .upstream(let old) = live.acquire() else { return XCTFail("no upstream") }
        live.setUpstream(port: 9002, deploymentID: nil)
        let drained = DispatchSemaphore(value: 0)
        OSThread.detach(name: "test-drain") {
            live.drain(old, seconds: 30)
            drained.signal()
        }
        XCTAssertEqual(drained.wait(timeout: .now() + 0.2), .timedOut, "a request is still in flight on the old container")
        live.release(old)
        XCTAssertEqual(drained.wait(timeout: .now() + 5), .success)

        guard case .upstream(let held) = live.acquire() else { return XCTFail("no upstream") }
        let started = monotonicMilliseconds()
        live.drain(held, seconds: 0.1)
        XCTAssertGreaterThanOrEqual(monotonicMilliseconds() - started, 100, "a holder that never lets go is waited for until the deadline")
    }

    /// The edge's hot path: one lock to take the upstream with an idle connection, one to let
    /// both go. A connection kept for a container that is no longer live is closed, not kept.
    func testAnIdleConnectionComesWithTheUpstreamAndGoesBackWithItsRelease() throws {
        let live = LiveUpstream(appName: "web")
        XCTAssertNil(live.acquireWithIdleConnection().idle, "nothing taken when the app has no container")
        live.setUpstream(port: 9001, deploymentID: 1)
        let first = live.acquireWithIdleConnection()
        guard case .upstream(let upstream) = first.admission else { return XCTFail("no upstream") }
        XCTAssertNil(first.idle, "an empty pool: dial")
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        close(ends[1])
        live.release(upstream, keepingIdle: ends[0])
        XCTAssertEqual(live.inFlight(to: upstream.generation), 0)
        XCTAssertEqual(live.idleConnectionCount, 1)

        let second = live.acquireWithIdleConnection()
        XCTAssertEqual(second.idle?.fd, ends[0], "the kept connection comes with the next request's upstream")
        XCTAssertEqual(live.idleConnectionCount, 0)
        XCTAssertEqual(live.inFlight(to: upstream.generation), 1)
        live.setUpstream(port: 9002, deploymentID: 2)
        live.release(upstream, keepingIdle: ends[0])
        XCTAssertEqual(live.inFlight(to: upstream.generation), 0)
        XCTAssertEqual(live.idleConnectionCount, 0, "not kept for the old container")
        XCTAssertEqual(fcntl(ends[0], F_GETFD), -1, "closed")
        XCTAssertEqual(errno, EBADF)
    }
}
