import SlipwaySystem

/// Why an app's access log file could not be written: the file and the failed call.
public struct AccessLogFileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let cause: IOError
    /// Lines lost with this failure (counted in the file's dropped lines too).
    public let lostLines: Int

    public var description: String { "access log \(path): \(cause); \(lostLines) lines lost" }
}
