import SlipwayHTTP

/// Wraps the dashboard's and the API's handlers: a request for a host name this server does not
/// answer to is refused with 421 before anything else (DNS rebinding), and when the public URL
/// is https every answer carries HSTS, errors included.
///
/// Not for /hooks and /healthz: GitHub signs each delivery, so a rebinding page gains nothing
/// there, and a proxy in front may pass any Host; /healthz tells nothing to anyone.
struct HostGuard: Sendable {
    let names: HostNames
    /// A year, the figure hstspreload.org asks for. No includeSubDomains: apps may be served
    /// over plain http on names below the dashboard's.
    static let strictTransportSecurity = ("Strict-Transport-Security", "max-age=31536000")
    let sendsStrictTransport: Bool

    init(names: HostNames, sendsStrictTransport: Bool) {
        self.names = names
        self.sendsStrictTransport = sendsStrictTransport
    }

    init(_ config: Configuration) {
        self.init(names: HostNames(config), sendsStrictTransport: config.publicURLIsHTTPS)
    }

    func wrap(_ handler: @escaping Handler) -> Handler {
        { [names, sendsStrictTransport] request in
            guard names.accepts(host: request.headers["Host"]) else { throw names.misdirected }
            guard sendsStrictTransport else { return try handler(request) }
            do {
                var response = try handler(request)
                response.headers.add(Self.strictTransportSecurity.0, Self.strictTransportSecurity.1)
                return response
            } catch let error as any HTTPResponseError {
                throw WithHeaders(error, adding: [Self.strictTransportSecurity])
            }
        }
    }

    /// An error answered as it is, with headers added.
    struct WithHeaders: HTTPResponseError {
        let base: any HTTPResponseError
        let added: [(String, String)]

        init(_ base: any HTTPResponseError, adding added: [(String, String)]) {
            self.base = base
            self.added = added
        }

        var status: Int { base.status }
        var code: String { base.code }
        var message: String { base.message }
        var extraHeaders: [(String, String)] { base.extraHeaders + added }
    }
}
