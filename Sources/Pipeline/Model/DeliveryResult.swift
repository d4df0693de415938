/// What became of a webhook delivery: its kind, and for some kinds the reason, as shown on the
/// app's page and in the API (`"ignored: tag push (v1) does not deploy"`).
public struct DeliveryResult: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// A push that queued a deployment.
        case accepted
        case ping
        /// Signed and valid, but nothing to do (another branch, a tag, another event).
        case ignored
        /// A delivery id seen before: answered, acted on once.
        case duplicate
        /// Refused: a bad or missing signature, or a signed payload that makes no sense.
        case rejected
    }

    public var kind: Kind
    public var reason: String?

    public init(_ kind: Kind, reason: String? = nil) {
        self.kind = kind
        self.reason = reason
    }

    public static let accepted = DeliveryResult(.accepted)
    public static let ping = DeliveryResult(.ping)
    public static let duplicate = DeliveryResult(.duplicate)
    public static func ignored(_ reason: String) -> DeliveryResult { DeliveryResult(.ignored, reason: reason) }
    public static func rejected(_ reason: String) -> DeliveryResult { DeliveryResult(.rejected, reason: reason) }

    /// The stored and shown form.
    public var text: String { reason.map { "\(kind.rawValue): \($0)" } ?? kind.rawValue }

    /// Reads the stored form back; the kind column says which kind, the text carries the reason.
    init(kind: Kind, text: String) {
        let prefix = kind.rawValue + ": "
        self.init(kind, reason: text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : nil)
    }
}
