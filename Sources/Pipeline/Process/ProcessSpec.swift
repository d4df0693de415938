import SlipwaySystem
/// A process to run: an argv and an environment, never a shell line.
public struct ProcessSpec: Sendable, Equatable {
    public var executable: String
    public var arguments: [String]
    /// Added to a minimal base environment (PATH, HOME); the server's own environment is not inherited.
    public var environment: [String: String]
    public var workingDirectory: String?
    /// A file whose contents become standard input (a build context tar, for example).
    public var standardInputPath: String?
    /// Small input (up to a pipe's 64 KiB) given on standard input: the way to hand a process a
    /// secret without putting it in argv.
    public var standardInputBytes: [UInt8]?
    /// Holds the process's id while it runs, so that a later run of Slipway can end a process this
    /// one left behind when it was killed (see OrphanedProcesses).
    public var pidFile: String?
    /// Files written 0600 just before the spawn and removed once the process has ended: the way
    /// to hand a process secrets too large for standard input, or that it reads from a path.
    public var secretFiles: [ProcessSecretFile] = []

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                workingDirectory: String? = nil, standardInputPath: String? = nil, standardInputBytes: [UInt8]? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.standardInputPath = standardInputPath
        self.standardInputBytes = standardInputBytes
    }

    /// The command as a log line. Environment values are not shown: they may be secrets.
    public var displayLine: String {
        ([executable] + arguments).map { arg in
            arg.hasOccurrence(of: " ") || arg.isEmpty ? "'\(arg)'" : arg
        }.joined(separator: " ")
    }
}

/// How a process ended, as swift-subprocess reports it.
public enum Termination: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var isSuccess: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let code): return "exit code \(code)"
        case .signaled(let signal): return "killed by signal \(signal)"
        }
    }
}

public struct ProcessResult: Sendable {
    public var termination: Termination
    /// Standard output and error interleaved, capped (see ProcessRunner.outputLimit).
    public var output: String
    public var timedOut: Bool
    public var cancelled: Bool

    public init(termination: Termination, output: String, timedOut: Bool = false, cancelled: Bool = false) {
        self.termination = termination
        self.output = output
        self.timedOut = timedOut
        self.cancelled = cancelled
    }
}

/// Runs processes. The seam lets deployment logic be tested with a fake.
public protocol ProcessRunner: Sendable {
    /// Runs `spec` to completion, or until `timeoutSeconds` or `cancellation` ends it.
    /// `onOutput` receives output lines as they come, for live logs.
    func run(_ spec: ProcessSpec, timeoutSeconds: Double, cancellation: Cancellation?,
             onOutput: (@Sendable (String) -> Void)?) throws -> ProcessResult
}

extension ProcessRunner {
    public func run(_ spec: ProcessSpec, timeoutSeconds: Double = 120) throws -> ProcessResult {
        try run(spec, timeoutSeconds: timeoutSeconds, cancellation: nil, onOutput: nil)
    }
}

public struct ProcessError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let errno: Int32
    public var description: String { "\(operation) failed (errno \(errno))" }
}
