import SlipwayTLS

/// Notifications go out through Slipway's one outbound client: OpenSSL, the system's CA bundle,
/// no shell and no child process.
extension HTTPSClient: NotificationTransport {
    public func post(_ url: String, headers: [(String, String)], body: [UInt8]) throws -> Int {
        try send("POST", url, headers: headers, body: body).status
    }
}
