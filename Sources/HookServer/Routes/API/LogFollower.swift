import FoundationEssentials
import Glibc
import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// Streams a deployment's log as it grows, until the deployment has finished and all of it is sent.
enum LogFollower {
    static func follow(path: String, deploymentID: Int, store: Store, writer: ResponseBodyWriter,
                       pollMilliseconds: UInt32 = 200, maxSeconds: Double = 3600) throws {
        var offset = 0
        let started = Date()
        while Date().timeIntervalSince(started) < maxSeconds {
            // Read the status first: when it says finished, one more read gets the final lines.
            let finished = (try? store.deployment(id: deploymentID))?.status.isFinished ?? true
            if let bytes = PosixFile.read(path, from: offset), !bytes.isEmpty {
                offset += bytes.count
                try writer.write(bytes)
            }
            if finished { return }
            usleep(pollMilliseconds * 1000)
        }
    }
}
