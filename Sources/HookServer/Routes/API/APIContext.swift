import Edge
import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// What the API handlers share.
struct APIContext: Sendable {
    let service: AppService
    let credentials: Credentials
    let config: Configuration
    /// Deliveries refused for their signature: counted in memory, listed beside the stored ones.
    let rejectedDeliveries: RejectedDeliveries
    /// Each app's requests through the HTTP edge: the ring, the counters, the files.
    let accessLogs: AccessLogRegistry
    /// Certificates uploaded for the apps' domains, which the HTTPS edge serves.
    let certificates: UploadedCertificates

    var store: Store { service.store }

    /// Wraps a handler so it runs only for one of this server's host names (421) and with a valid
    /// bearer token. A client that sent five wrong tokens within a minute gets 429 until that
    /// minute ends, without its token being checked: even the right one, since answering it
    /// would tell a guesser which guess was right and the throttle would stop nothing. A request
    /// without any Authorization guesses nothing and does not count.
    func authenticated(_ handler: @escaping Handler) -> Handler {
        HostGuard(config).wrap { [credentials] request in
            guard let authorization = request.headers["Authorization"] else { throw Self.unauthorized }
            let failures = credentials.apiTokenFailures
            switch failures.reserve(from: request.remoteAddress) {
            case .refused(let wait):
                throw HTTPError(429, "too many invalid API tokens from this address; try again in \(wait) s",
                                headers: [("Retry-After", String(wait))])
            case .admitted(let reservation):
                guard credentials.isValidAPIToken(authorization) else {
                    Log.warning("invalid API token from \(request.remoteAddress)")
                    throw Self.unauthorized
                }
                // Only this attempt is undone: a valid client sharing the address of a guesser
                // must not refill the guesser's budget.
                failures.release(reservation)
            }
            return try handler(request)
        }
    }

    private static let unauthorized = HTTPError(401, "missing or invalid API token", headers: [("WWW-Authenticate", "Bearer")])

    func app(_ request: HTTPRequest) throws -> App {
        let name = request.parameter("name")
        guard let app = try store.app(named: name) else { throw HTTPError.notFound("no app named \(name)") }
        return app
    }

    func deployment(_ request: HTTPRequest) throws -> Deployment {
        guard let id = Int(request.parameter("id")), let d = try store.deployment(id: id) else {
            throw HTTPError.notFound("no deployment \(request.parameter("id"))")
        }
        return d
    }

    /// An integer query parameter within `range`, or `fallback` when absent.
    static func boundedQuery(_ request: HTTPRequest, _ name: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = request.query[name] else { return fallback }
        guard let n = Int(text), range.contains(n) else {
            throw ValidationError(name, "\(name) must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return n
    }

    func appJSON(_ app: App, includeSecret: Bool = false) throws -> JSON {
        AppJSON.encode(app, api: self, env: try store.env(appID: app.id).map(\.name), includeSecret: includeSecret)
    }

    func deploymentJSON(_ d: Deployment) throws -> JSON {
        DeploymentJSON.encode(d, liveID: try store.app(id: d.appID)?.liveDeploymentID)
    }
}
