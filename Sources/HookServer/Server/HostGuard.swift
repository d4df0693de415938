import SlipwayHTTP

/// Wraps the dashboard's and the API's handlers: a request for a host name this server does not
/// answer to is refused with 421 before anything else (DNS rebinding).
///
/// Not for /hooks and /healthz: GitHub signs each delivery, so a rebinding page gains nothing
/// there, and a proxy in front may pass any Host; /healthz tells nothing to anyone.
struct HostGuard: Sendable {
    let names: HostNames

    init(names: HostNames) {
        self.names = names
    }

    init(_ config: Configuration) {
        self.init(names: HostNames(config))
    }

    func wrap(_ handler: @escaping Handler) -> Handler {
        { [names] request in
            guard names.accepts(host: request.headers["Host"]) else { throw names.misdirected }
            return try handler(request)
        }
    }
}
