/// Bad input, naming the field it is about.
public struct ValidationError: Error, Equatable, CustomStringConvertible, Sendable {
    public let field: String
    public let message: String

    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { message }
}
