import Glibc

/// A failed system call, carrying the function's name and errno, as SwiftNIO's IOError does.
public struct IOError: Error, CustomStringConvertible, Sendable {
    public let function: String
    public let errno: Int32

    public init(function: String, errno: Int32) {
        self.function = function
        self.errno = errno
    }

    public var description: String { "\(function) failed: \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// Runs a system call, retrying on EINTR; a negative result becomes an IOError.
@discardableResult
public func syscall<T: BinaryInteger>(_ function: String, _ body: () -> T) throws(IOError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw IOError(function: function, errno: code)
    }
}
