import Dispatch
import Edge
import FoundationEssentials
import Glibc
import Pipeline
import SlipwayCrypto
import SlipwayServer
import SlipwaySystem
import SlipwayTLS
import Synchronization

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
    /// Under `--takeover`: the running process this one takes the listening sockets from.
    let takeover: TakeoverClient?
    /// Set once this process has handed over to a successor: it drains, then exits.
    let handedOver = Atomic<Bool>(false)
    /// Tells systemd that the service is ready, and which process it is after an upgrade.
    let systemd = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
    /// This binary's path at start-up: what SIGHUP starts, and what runs as `ssh` for docker.
    let executable: String?
    /// The other servers whose engines Slipway drives over SSH.
    let servers: ServerDirectory

    init(config: Configuration) throws {
        self.config = config
        executable = ExecutablePath.current()
        let descriptors = DescriptorLimit.raiseToHardLimit()
        Log.info("open file descriptor limit: \(descriptors.limit)\(descriptors.raised ? " (raised to the hard limit)" : "")")
        try FileManager.default.createDirectory(atPath: config.dataDir, withIntermediateDirectories: true)
        if config.takeover {
            // Ports open from here on wait to accept until the first look at Docker (`run`).
            try PortForwarder.holdAccepting()
            takeover = try TakeoverClient(dataDir: config.dataDir)
        } else {
            takeover = nil
        }
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
        servers = try ServerDirectory(store: store, runner: runner,
                                      settings: .init(root: config.dataDir + "/servers", dockerExecutable: config.dockerExecutable,
                                                      wrapperBinary: executable, instanceID: instanceID))
        service = try AppService(store: store,
                                 runtime: DockerCLI(runner: runner, executable: config.dockerExecutable, builder: config.builder,
                                                    runDirectory: runDirectory),
                                 git: GitMirror(root: settings.reposDir, runner: runner, allowLocal: config.allowLocalRepos,
                                                runDirectory: runDirectory),
                                 settings: settings,
                                 statuses: GitHubStatusReporter(runner: runner, apiURL: config.githubAPIURL,
                                                                githubHost: config.githubHost, publicURL: config.effectivePublicURL),
                                 notifications: notifications,
                                 servers: servers,
                                 remoteRuntime: { [config] endpoint in
                                     DockerCLI(runner: runner, executable: config.dockerExecutable, builder: config.builder,
                                               runDirectory: runDirectory, endpoint: endpoint)
                                 })
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
        router.addServerRoutes(api, servers: servers)
        router.addWebhookRoutes(WebhookHandler(backend: service, rejected: rejectedDeliveries, tarpit: try Tarpit(),
                                               bodyLimit: config.webhookBodyLimit))
        // Templates are parsed now: a missing or broken one stops start-up, not a request.
        let renderer = try TemplateRenderer(directory: TemplateRenderer.locate(configured: config.templatesDir))
        let web = WebContext(service: service, credentials: credentials, config: config, renderer: renderer,
                                       sessions: SessionStore(secureCookie: config.publicURLIsHTTPS), throttle: FailureThrottle(),
                                       supervisor: supervisor, warnings: warnings, rejectedDeliveries: rejectedDeliveries,
                                       accessLogs: accessLogs, certificates: certificates,
                                       hostGuard: HostGuard(config))
        router.addWebRoutes(web)
        router.addServerPages(web, servers: servers)
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

    /// Notifications, certificates and their expiry: one process at a time does these.
    private func startBackgroundWork() {
        acme?.start()
        notificationSender.start()
        expiryWatch.start()
    }

    /// Once serving: a successor tells the old process it is ready and takes over the background
    /// work; then this process answers successors of its own, and tells systemd it is ready.
    private func finishStarting() {
        if let takeover {
            _ = takeover.ready()
            Log.attempt("upgrade: looking for connections waiting on the apps' ports") { try PortForwarder.rearmAccepting() }
            let unused = InheritedListeners.shared.closeUnclaimed()
            if !unused.isEmpty { Log.info("upgrade: closed listening sockets this configuration does not use: \(unused.joined(separator: ", "))") }
            startBackgroundWork()
            Log.info("upgrade: this process (\(getpid())) has taken over")
            systemd.notify("MAINPID=\(getpid())\nREADY=1")
        } else {
            systemd.notify("READY=1")
        }
        do {
            let handover = try UpgradeHandover(dataDir: config.dataDir, participant: self)
            handover.start()
        } catch {
            warnings.raise(id: "upgrade", "seamless upgrades are unavailable: cannot listen at \(TakeoverMessage.socketPath(dataDir: config.dataDir)): \(error)")
        }
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

    /// Serves until SIGTERM or SIGINT, or until a successor has taken over (SIGHUP starts one);
    /// returns the exit code.
    func run() -> Int32 {
        let launcher = UpgradeLauncher(executable: executable, arguments: Array(CommandLine.arguments.dropFirst()))
        // SIGTERM, SIGINT and SIGHUP were blocked in main before any thread started; one thread
        // takes them with sigwait, so a signal arriving at any moment is never lost.
        OSThread.detach(name: "signals") { [self] in
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGTERM)
            sigaddset(&set, SIGINT)
            sigaddset(&set, SIGHUP)
            var received: Int32 = 0
            while true {
                guard sigwait(&set, &received) == 0 else { continue }
                guard received == SIGHUP else { break }
                if handedOver.load(ordering: .acquiring) { continue }
                if let launcher {
                    launcher.launch()
                } else {
                    Log.error("upgrade: cannot tell where this binary is (/proc/self/exe), so SIGHUP cannot start its successor")
                }
            }
            Log.info("received signal \(received): finishing in-flight requests")
            server.shutdown()
            edge?.shutdown()
            httpsEdge?.shutdown()
        }
        if takeover != nil {
            // The old process serves the apps until this one knows where their containers are:
            // ports accepting before the first look would answer 503 "starting".
            let firstLook = DispatchSemaphore(value: 0)
            supervisor.start(afterFirstTick: { [service] in
                service.queue.resume()
                firstLook.signal()
            })
            if firstLook.wait(timeout: .now() + 60) == .timedOut {
                Log.warning("upgrade: the first look at Docker takes more than 60 s; serving meanwhile")
            }
            Log.attempt("upgrade: accepting on the apps' ports") { try PortForwarder.releaseAccepting() }
        } else {
            supervisor.start(afterFirstTick: { [service] in service.queue.resume() })
            startBackgroundWork()
        }
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
        OSThread.detach(name: "upgrade") { [self] in finishStarting() }
        server.run()
        // In-flight requests on the edges finish too (each server waits out its grace period).
        edgeStopped.wait()
        httpsEdgeStopped.wait()
        if handedOver.load(ordering: .acquiring) {
            // What the apps' ports still relay finishes here, up to the drain period; new
            // connections go to the successor.
            let deadline = monotonicMilliseconds() + config.drainTimeout * 1000
            while service.forwarders.openConnections > 0 && monotonicMilliseconds() < deadline { usleep(20_000) }
            let cut = service.forwarders.openConnections
            if cut > 0 { Log.warning("upgrade: closing \(cut) relayed connections still open after the \(config.drainTimeout) s drain period") }
        }
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

extension Application: HandoverParticipant {
    func prepareHandover() throws(HandoverRefusal) -> [HandedListener] {
        service.queue.pause()
        // Deployments end within their timeouts; a successor's recovery would mark one still
        // running as interrupted, so it waits for them.
        let limit = Double(config.buildTimeout + config.healthTimeout + 60)
        let running = service.queue.counts.running
        if running > 0 { Log.info("upgrade: waiting for \(running) running deployments to finish before handing over") }
        let left = service.queue.waitUntilIdle(seconds: limit)
        guard left == 0 else {
            service.queue.resume()
            throw HandoverRefusal(description: "\(left) deployments still running after \(Int(limit)) s")
        }
        supervisor.pause()
        // Requests to the dashboard may change apps: from now on they wait for the successor.
        server.pauseAccepting()
        var listeners: [HandedListener] = []
        func add(host: String, port: Int, fd: Int32?) {
            if let fd { listeners.append(HandedListener(host: host, port: port, fd: fd)) }
        }
        add(host: server.options.host, port: server.port, fd: server.duplicateListener())
        if let edge { add(host: edge.options.host, port: edge.port, fd: edge.duplicateListener()) }
        if let httpsEdge { add(host: httpsEdge.options.host, port: httpsEdge.port, fd: httpsEdge.duplicateListener()) }
        for forwarder in service.forwarders.all {
            add(host: forwarder.host, port: forwarder.port, fd: forwarder.duplicateListener())
        }
        return listeners
    }

    func abandonHandover() {
        server.resumeAccepting()
        supervisor.resume()
        service.queue.resume()
    }

    func completeHandover() {
        handedOver.store(true, ordering: .releasing)
        for forwarder in service.forwarders.all { forwarder.close() }
        edge?.handOver()
        httpsEdge?.handOver()
        server.handOver()
        supervisor.stop()
        acme?.stop()
        notificationSender.stop()
    }
}
