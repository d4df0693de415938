import SlipwayCrypto

enum Secrets {
    /// 32 random bytes as hex, GitHub's recommended strength for a webhook secret.
    static func newWebhookSecret() -> String { PasswordHash.randomToken(bytes: 32) }
}
