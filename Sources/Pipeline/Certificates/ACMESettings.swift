/// Where Slipway orders certificates: `--acme-email` turns it on, `--acme-directory` names the
/// CA (Let's Encrypt's production directory unless given), `--acme-ca-file` is a bundle to trust
/// for the CA's own HTTPS (a private or test CA), the system's otherwise.
public struct ACMESettings: Sendable {
    public static let letsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"

    public var email: String
    public var directoryURL: String
    public var caFile: String?
    /// The first wait after a failed order; it doubles with each failure, up to a day.
    public var retrySeconds: Int

    public init(email: String, directoryURL: String = ACMESettings.letsEncrypt, caFile: String? = nil, retrySeconds: Int = 60) {
        self.email = email
        self.directoryURL = directoryURL
        self.caFile = caFile
        self.retrySeconds = retrySeconds
    }
}
