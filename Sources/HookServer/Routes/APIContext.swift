import Pipeline

/// What the API handlers share.
struct APIContext: Sendable {
    let store: Store
    let credentials: Credentials
    let config: Configuration

    /// Wraps a handler so it runs only with a valid bearer token.
    func authenticated(_ handler: @escaping Handler) -> Handler {
        { [credentials] request in
            guard credentials.isValidAPIToken(request.headers["Authorization"]) else {
                throw HTTPError(401, "missing or invalid API token", headers: [("WWW-Authenticate", "Bearer")])
            }
            return try handler(request)
        }
    }
}
