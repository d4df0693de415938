import FoundationEssentials
import SlipwaySystem

/// A few megabytes kept in the data directory so that, when the disk fills up, Slipway can still
/// record that a deployment failed: the reserve is given up, the row written, and the reserve
/// made again once there is room.
public struct DiskReserve: Sendable {
    public let path: String
    public let bytes: Int

    public init(dataDir: String, bytes: Int = 4 << 20) {
        path = dataDir + "/.disk-reserve"
        self.bytes = bytes
    }

    /// Creates the reserve if it is missing and there is room; never fails.
    public func ensure() {
        guard !FileManager.default.fileExists(atPath: path) else { return }
        let temporary = path + ".tmp"
        // 0600 like everything in the data directory (the umask already makes it so).
        if FileManager.default.createFile(atPath: temporary, contents: Data(count: bytes), attributes: [.posixPermissions: 0o600]) {
            try? FileManager.default.moveItem(atPath: temporary, toPath: path)
        } else {
            try? FileManager.default.removeItem(atPath: temporary)
        }
    }

    public func release() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Runs a write; if the disk is full, frees the reserve and tries once more.
    public func writing(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as SQLiteError where error.isDiskFull {
            Log.warning("the data directory's disk is full: using the reserve to record the outcome")
            release()
            try body()
        }
    }
}
