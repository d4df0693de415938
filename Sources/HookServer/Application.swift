import Dispatch
import Edge
import FoundationEssentials
import Glibc
import Pipeline
import SlipwayCrypto
import SlipwayServer
import SlipwaySystem
import SlipwayTLS

/// Wires the store, the credentials, the routes and the HTTP server together for `slipway serve`.
final class Application: Sendable {
    let config: Configuration
    let store: Store
    let credentials: Credentials
    let service: AppService
    let supervisor: AppSupervisor
    let server: HTTPServer
    /// The HTTP edge (`--http-port`): apps at their domains, the dashboard at its own.
    let edge: HTTPServer?
    /// The HTTPS edge (`--https-port`): the same, over TLS with the uploaded certificates.
    let httpsEdge: HTTPServer?
    /// Certificates uploaded for the apps' domains, and those ACME issued.
    let certificates: UploadedCertificates
    /// Orders and renews certificates (`--acme-email`).
    let acme: ACMECertificates?
    /// Set-up problems, logged once and shown on the dashboard.
    let warnings = ServerWarnings()
    /// Webhook deliveries refused for their signature, counted in memory.
    let rejectedDeliveries = RejectedDeliveries()
    /// Each app's requests through the HTTP edge; the edge records into it, the API and the
    /// dashboard read it.
    let accessLogs: AccessLogRegistry
    /// Sends the queued notifications, on a thread of its own.
    let notificationSender: NotificationSender
    /// Tells of certificates close to their end (`certificate.expiring`).
    let expiryWatch: CertificateExpiryWatch

    init(config: Configuration) throws {
        self.config = config
        let descriptors = DescriptorLimit.raiseToHardLimit()
        Log.info("open file descriptor limit: \(descriptors.limit)\(descriptors.raised ? " (raised to the hard limit)" : "")")
        try FileManager.default.createDirectory(atPath: config.dataDir, withIntermediateDirectories: true)
        let runDirectory = try Self.securePrivateFiles(dataDir: config.dataDir)
        accessLogs = try AccessLogRegistry(directory: config.dataDir + "/access")
        store = try Store(path: config.dataDir + "/" + Store.fileName, keepDeliveries: config.keepDeliveries)
        // History grown by an earlier version, or under a larger --keep-deliveries, shrinks now.
        store.pruner.pruneAll()
        credentials = try Credentials(store: store, configuredPassword: config.adminPassword, configuredToken: config.apiToken,
                                      generatedFile: InitialCredentialsFile(dataDir: config.dataDir))

        let instanceID: String
        if let existing = try store.setting("instance_id") {
            instanceID = existing
        } else {
            instanceID = PasswordHash.randomToken(bytes: 6)
            try store.setSetting("instance_id", instanceID)
        }
        var settings = PipelineSettings(
            dataDir: config.dataDir, bindHost: config.host, appPorts: config.appPorts, allowLocalRepos: config.allowLocalRepos,
            maxBuilds: config.maxBuilds, keepImages: config.keepImages, buildTimeoutSeconds: Double(config.buildTimeout),
            healthTimeoutSeconds: Double(config.healthTimeout), drainSeconds: Double(config.drainTimeout),
            extraLabels: config.containerLabels, instanceID: instanceID)
        settings.maxAppConnections = config.maxAppConnections
        settings.dashboardHostNames = config.dashboardHostNames
        let runner = SpawnedProcessRunner()
        if let problem = GitVersion.startupWarning(runner: runner) { warnings.raise(id: "git-version", problem) }
        let notifications = try NotificationQueue(store: store, publicURL: config.effectivePublicURL)
        var outbound = HTTPSClient(trust: .system)
        outbound.allowsPlainHTTP = true
        outbound.timeoutMilliseconds = 10_000
        outbound.maxResponseBytes = 64 * 1024
        notificationSender = NotificationSender(queue: notifications, transport: outbound, retrySeconds: config.notificationRetrySeconds)
        service = try AppService(store: store,
                                 runtime: DockerCLI(runner: runner, executable: config.dockerExecutable, builder: config.builder,
                                                    runDirectory: runDirectory),
                                 git: GitMirror(root: settings.reposDir, runner: runner, allowLocal: config.allowLocalRepos,
                                                runDirectory: runDirectory),
                                 settings: settings,
                                 statuses: GitHubStatusReporter(runner: runner, apiURL: config.githubAPIURL,
                                                                githubHost: config.githubHost, publicURL: config.effectivePublicURL),
                                 notifications: notifications)
        supervisor = AppSupervisor(service: service)
        // Recovery settles what a crash left behind before any new deployment may start.
        service.queue.pause()
        try supervisor.prepare()

        // Stored certificates are shown only for names an app has now (a domain removed keeps its
        // certificate for when it comes back).
        // The dashboard's domain is served over HTTPS when its certificate comes from ACME.
        let dashboardDomain = config.dashboardServesHTTPS ? config.dashboardDomain : nil
        certificates = try UploadedCertificates(dataDir: config.dataDir,
                                                store: CertificateStore(isServed: { [domains = service.domains] in
                                                    $0 == dashboardDomain || domains.resolve(host: $0) != nil
                                                }))
        expiryWatch = try CertificateExpiryWatch(certificates: certificates, store: store, notifications: notifications)
        certificates.onChange { [expiryWatch] in expiryWatch.check() }
        if let email = config.acmeEmail {
            let acme = try ACMECertificates(dataDir: config.dataDir,
                                            settings: ACMESettings(email: email, directoryURL: config.acmeDirectory, caFile: config.acmeCAFile,
                                                                   retrySeconds: config.acmeRetrySeconds),
                                            certificates: certificates,
                                            // The edge's own table, in memory: no query every round.
                                            domains: { [domains = service.domains] in
                                                domains.table.exactNames + (dashboardDomain.map { [$0] } ?? [])
                                            },
                                            failed: { [domains = service.domains, store] domain, error in
                                                guard let id = domains.resolve(host: domain), let app = try? store.app(id: id) else { return }
                                                notifications.certificate(app, domain: domain, failed: error)
                                            })
            certificates.reportOrders { [acme] in acme.status(of: $0) }
            self.acme = acme
        } else {
            acme = nil
        }
        var router = Router()
        router.addHealthRoutes()
        let api = APIContext(service: service, credentials: credentials, config: config, rejectedDeliveries: rejectedDeliveries,
                             accessLogs: accessLogs, certificates: certificates)
        router.addAPIRoutes(api)
        router.addWebhookRoutes(WebhookHandler(backend: service, rejected: rejectedDeliveries, tarpit: try Tarpit(),
                                               bodyLimit: config.webhookBodyLimit))
        // Templates are parsed now: a missing or broken one stops start-up, not a request.
        let renderer = try TemplateRenderer(directory: TemplateRenderer.locate(configured: config.templatesDir))
        router.addWebRoutes(WebContext(service: service, credentials: credentials, config: config, renderer: renderer,
                                       sessions: SessionStore(secureCookie: config.publicURLIsHTTPS), throttle: FailureThrottle(),
                                       supervisor: supervisor, warnings: warnings, rejectedDeliveries: rejectedDeliveries,
                                       accessLogs: accessLogs, certificates: certificates,
                                       hostGuard: HostGuard(config)))
        let responder = Responder(router: router, defaultBodyLimit: config.serverOptions.limits.defaultBodyLimit)
        server = try HTTPServer(options: config.serverOptions, dispatcher: responder)
        let routes = AppEdgeRoutes(dashboardDomain: config.dashboardDomain, upstreams: service.upstreams,
                                   accessLogs: accessLogs, defaultMaxRequestBody: config.maxRequestBody,
                                   appForHost: { [domains = service.domains] in domains.resolve(host: $0) })
        let certificateStore = certificates.store
        let redirect = config.httpsPort.map { port in
            // Asked only for a name the edge has just routed to an app or the dashboard.
            HTTPSRedirect(httpsPort: port, redirectsDashboard: config.dashboardServesHTTPS,
                          hasCertificate: { certificateStore.hasCertificate(forServed: $0) })
        }
        if let edgeOptions = config.edgeServerOptions {
            edge = try HTTPServer(options: edgeOptions, dispatcher: HTTPEdge(routes: routes, dashboard: responder, settings: config.edgeSettings,
                                                                             redirect: redirect, challenges: acme?.challenges))
        } else {
            edge = nil
        }
        if let httpsOptions = config.httpsEdgeServerOptions {
            var settings = config.edgeSettings
            settings.forwardedProto = "https"
            httpsEdge = try HTTPServer(options: httpsOptions, dispatcher: HTTPEdge(routes: routes, dashboard: responder, settings: settings),
                                       tls: try TLSServerContext(store: certificateStore))
        } else {
            httpsEdge = nil
        }
        raiseSharedCookieWarning()
    }

    /// Apps on the dashboard's own (non-loopback) host name receive the admin's session cookie.
    /// Under `--app-ports off` no app listens on any name's ports, so none can.
    private func raiseSharedCookieWarning() {
        guard config.appPorts != nil, let shared = HostNames.sharedWithApps(host: config.host, publicURL: config.publicURL, appsHost: config.appsHost) else { return }
        warnings.raise(id: "shared-cookie", "the dashboard and the apps share the host name \(shared), so an app opened in a browser "
                       + "receives the dashboard's session cookie; give the apps a name of their own with --apps-host "
                       + "(see \"A note on host names\" in the README)")
    }

    /// The data directory made private before anything is read from it: modes an older Slipway
    /// (or another umask) left are tightened, and the secrets files a killed run left are removed.
    private static func securePrivateFiles(dataDir: String) throws -> RunDirectory {
        let modes = DataDirectoryModes.tighten(dataDir: dataDir)
        if modes.fixed > 0 {
            Log.warning("data directory: \(modes.fixed) entries were open to other users; they are now Slipway's alone")
        }
        if !modes.failed.isEmpty {
            Log.error("data directory: could not make \(modes.failed.count) entries private, among them: \(modes.failed.prefix(3).joined(separator: ", "))")
        }
        let runDirectory = RunDirectory(dataDir: dataDir)
        let leftovers = try runDirectory.prepare()
        if leftovers > 0 { Log.info("removed \(leftovers) secrets files a killed run left in \(runDirectory.path)") }
        return runDirectory
    }

    /// Serves until SIGTERM or SIGINT; returns the exit code.
    func run() -> Int32 {
        // SIGTERM and SIGINT were blocked in main before any thread started; one thread takes
        // them with sigwait, so a signal arriving at any moment is never lost.
        OSThread.detach(name: "signals") { [server, edge, httpsEdge] in
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGTERM)
            sigaddset(&set, SIGINT)
            var received: Int32 = 0
            while sigwait(&set, &received) != 0 {}
            Log.info("received signal \(received): finishing in-flight requests")
            server.shutdown()
            edge?.shutdown()
            httpsEdge?.shutdown()
        }
        supervisor.start(afterFirstTick: { [service] in service.queue.resume() })
        acme?.start()
        notificationSender.start()
        expiryWatch.start()
        Log.info("slipway \(CommandLineParser.version) listening on http://\(config.host):\(server.port) (data in \(config.dataDir))")
        let edgeStopped = DispatchSemaphore(value: 0)
        if let edge {
            Log.info("HTTP edge listening on http://\(config.host):\(edge.port)"
                     + (config.dashboardDomain.map { " (the dashboard at \($0))" } ?? ""))
            OSThread.detach(name: "edge-accept") {
                edge.run()
                edgeStopped.signal()
            }
        } else {
            edgeStopped.signal()
        }
        let httpsEdgeStopped = DispatchSemaphore(value: 0)
        if let httpsEdge {
            Log.info("HTTPS edge listening on https://\(config.host):\(httpsEdge.port)")
            OSThread.detach(name: "https-edge") {
                httpsEdge.run()
                httpsEdgeStopped.signal()
            }
        } else {
            httpsEdgeStopped.signal()
        }
        server.run()
        // In-flight requests on the edges finish too (each server waits out its grace period).
        edgeStopped.wait()
        httpsEdgeStopped.wait()
        supervisor.stop()
        acme?.stop()
        notificationSender.stop()
        service.shutdown()
        accessLogs.shutdown()
        store.checkpoint()
        Log.info("stopped")
        return 0
    }
}
