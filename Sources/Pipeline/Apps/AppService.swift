import Edge
import FoundationEssentials
import Glibc
import SlipwaySystem
import Synchronization

/// What the API and the dashboard do to apps: create, deploy, roll back, stop, start, delete.
public final class AppService: Sendable {
    public let store: Store
    /// This machine's engine.
    public let runtime: any ContainerRuntime
    /// Every server's engine; an app's live container is on its live deployment's server.
    public let engines: Engines
    public let git: any GitSource
    public let settings: PipelineSettings
    public let forwarders: ForwarderRegistry
    /// Each app's live container, which its port forwarder and the HTTP edge send traffic to.
    public let upstreams: UpstreamRegistry
    public let queue: DeploymentQueue
    /// The host-name table the HTTP edge routes by, republished after every domain change.
    public let domains = DomainDirectory()
    let deployer: Deployer
    /// Deployments that ended since the start, for /metrics.
    public var deploymentMetrics: DeploymentMetrics { deployer.metrics }
    let locks = AppLocks()
    /// Held from storing an app's settings to handing its body limit to the edge: without it,
    /// of two edits racing, the edge could keep the value the store did not.
    private let publishingSettings = Mutex(())

    /// The apps' notification targets' queue; nil in tests that need none.
    public let notifications: NotificationQueue?

    public init(store: Store, runtime: any ContainerRuntime, git: any GitSource, settings: PipelineSettings,
                statuses: any CommitStatusReporter = NoCommitStatus(), notifications: NotificationQueue? = nil,
                servers: ServerDirectory? = nil, remoteRuntime: Engines.RemoteRuntime? = nil) throws {
        self.store = store
        self.notifications = notifications
        self.runtime = runtime
        engines = Engines(local: runtime, directory: servers, remote: remoteRuntime)
        self.git = git
        self.settings = settings
        for dir in [settings.reposDir, settings.logsDir, settings.buildsDir] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        DiskReserve(dataDir: settings.dataDir).ensure()
        forwarders = ForwarderRegistry()
        upstreams = UpstreamRegistry()
        deployer = Deployer(store: store, engines: engines, git: git, settings: settings, upstreams: upstreams, statuses: statuses,
                            notifications: notifications)
        queue = DeploymentQueue(store: store, deployer: deployer, settings: settings)
        try domains.rebuild(from: store)
    }

    /// The current host-name table, app domains to app ids (see `domains` for a cheap way to
    /// notice changes).
    public func domainTable() -> DomainTable<Int> { domains.table }

    /// After a change to the stored domains has committed. A failure is logged, not thrown: the
    /// change itself stands, and the edge keeps the previous table until the next rebuild.
    private func republishDomains() {
        Log.attempt("rebuilding the domain table") { try domains.rebuild(from: store) }
    }

    // MARK: creating and editing

    public struct NewApp: Sendable {
        public var name: String?
        public var settings: AppSettings
        public var env: [(String, String)]
        public var deploy: Bool
        /// HTTPS token for a private repository; GitHub token for commit statuses.
        public var gitToken: String?
        public var githubToken: String?
        /// Host names as the user typed them; checked by `create`.
        public var domains: [String]
        /// Named volumes as the user gave them; checked by `create`.
        public var volumes: [AppVolume]

        public init(name: String?, settings: AppSettings, env: [(String, String)], deploy: Bool,
                    gitToken: String? = nil, githubToken: String? = nil, domains: [String] = [], volumes: [AppVolume] = []) {
            self.name = name
            self.settings = settings
            self.env = env
            self.deploy = deploy
            self.gitToken = gitToken
            self.githubToken = githubToken
            self.domains = domains
            self.volumes = volumes
        }
    }

    public func validate(_ s: AppSettings) throws(ValidationError) {
        try AppValidation.repoURL(s.repoURL, allowLocal: settings.allowLocalRepos)
        try AppValidation.branch(s.branch)
        try AppValidation.internalPort(s.internalPort)
        try AppValidation.healthPath(s.healthPath)
        if let m = s.memoryMB { try AppValidation.memoryMB(m) }
        if let c = s.cpus { try AppValidation.cpus(c) }
        if let b = s.maxRequestBody { try AppValidation.maxRequestBody(b) }
        if let t = s.stopTimeout { try AppValidation.stopTimeout(t) }
        if s.server != Server.localName, (try? store.server(named: s.server)) == nil {
            throw ValidationError("server", "no server named \(s.server.prefix(100)): add it on the Servers page (or POST /api/servers) first")
        }
    }

    /// The names as given, checked, in their stored form.
    public func validateDomains(_ names: [String]) throws(ValidationError) -> [DomainName] {
        try AppValidation.domains(names, reserved: settings.dashboardHostNames)
    }

    /// Creates the app, takes its port (unless `--app-ports off`), stores its domains and
    /// credentials and queues its first deployment unless told not to. Credentials are stored
    /// before that deployment is queued, so it can use them.
    public func create(_ request: NewApp) throws -> (app: App, deployment: Deployment?) {
        if let token = request.gitToken { try AppValidation.secretToken(token, field: "git_token") }
        if let token = request.githubToken { try AppValidation.secretToken(token, field: "github_token") }
        try validate(request.settings)
        if request.gitToken != nil { try AppValidation.gitToken(usableWith: request.settings.repoURL) }
        try AppValidation.env(request.env)
        let checkedDomains = try validateDomains(request.domains)
        let checkedVolumes = try AppValidation.volumes(request.volumes)
        let name = request.name ?? AppName.derive(from: request.settings.repoURL)
        try AppValidation.name(name)
        if try store.app(named: name) != nil { throw StoreError.nameTaken(name) }

        let live = LiveUpstream(appName: name, unavailability: .notDeployed, maxRequestBody: request.settings.maxRequestBody)
        live.redirectsToHTTPS = request.settings.httpsRedirect
        live.sendsHSTS = request.settings.hsts
        let forwarder = try settings.appPorts.map { range in
            try PortAllocator.allocate(range: range, used: try store.usedPorts(), host: settings.bindHost,
                                       upstream: live, maxConnections: settings.maxAppConnections)
        }
        let app: App
        do {
            app = try store.createApp(name: name, settings: request.settings, port: forwarder?.port, env: request.env, domains: checkedDomains,
                                      volumes: checkedVolumes)
        } catch {
            forwarder?.close()
            throw error
        }
        upstreams.set(live, for: app.id)
        if let forwarder {
            forwarders.set(forwarder, for: app.id)
            Log.info("app \(name) created on port \(forwarder.port)")
        } else {
            Log.info("app \(name) created without a port (--app-ports off)")
        }
        if !checkedDomains.isEmpty { republishDomains() }
        var created = app
        if request.gitToken != nil || request.githubToken != nil {
            if let token = request.gitToken { try store.setCredential(appID: app.id, .gitToken, token) }
            if let token = request.githubToken { try store.setCredential(appID: app.id, .githubToken, token) }
            created = try store.app(id: app.id) ?? app
        }
        let deployment = request.deploy ? try deploy(created, trigger: .manual) : nil
        return (created, deployment)
    }

    /// Changes an app's settings, and its env, tokens and domains when given (domains replace
    /// the whole list); everything is checked before anything is stored.
    public func update(_ app: App, settings s: AppSettings, env: [(String, String)]?,
                       gitToken: SecretChange = .keep, githubToken: SecretChange = .keep, domains: [String]? = nil,
                       volumes: [AppVolume]? = nil, actor: AppChange.Actor = .api) throws -> App {
        try validate(s)
        if let env { try AppValidation.env(env) }
        var checkedDomains: [DomainName]?
        if let domains { checkedDomains = try validateDomains(domains) }
        let checkedVolumes = try volumes.map { volumes throws(ValidationError) in try AppValidation.volumes(volumes) }
        if case .set(let token) = gitToken { try AppValidation.secretToken(token, field: "git_token") }
        if case .set(let token) = githubToken { try AppValidation.secretToken(token, field: "github_token") }
        // The error names what this request changed: the token, or the URL under a stored one.
        switch gitToken {
        case .set: try AppValidation.gitToken(usableWith: s.repoURL)
        case .keep: if s.repoURL != app.repoURL { try AppValidation.repoURL(s.repoURL, usableWithGitToken: app.gitToken != nil) }
        case .clear: break
        }
        // Domains first: a name another app has is the one refusal only the store can find, and
        // it must come before anything else of the request is stored.
        if let checkedDomains {
            try store.replaceDomains(of: app, with: checkedDomains)
            republishDomains()
        }
        try publishingSettings.withLock { _ in
            try store.updateSettings(appID: app.id, s)
            // The edge reads the limit from the app's live upstream with each request; the next one has it.
            upstreams.upstream(for: app.id)?.maxRequestBody = s.maxRequestBody
            upstreams.upstream(for: app.id)?.redirectsToHTTPS = s.httpsRedirect
            upstreams.upstream(for: app.id)?.sendsHSTS = s.hsts
        }
        if let env {
            let before = try store.env(appID: app.id)
            try store.replaceEnv(appID: app.id, env)
            if let summary = AppChange.envSummary(before: before, after: env) {
                try store.recordChange(appID: app.id, actor: actor, summary: summary)
            }
        }
        // Taken up by the next container made (a deployment, a rollback, a re-created one);
        // a volume left out keeps its data.
        if let checkedVolumes, checkedVolumes != app.volumes {
            try store.replaceVolumes(of: app, with: checkedVolumes)
            if let summary = AppChange.volumesSummary(before: app.volumes, after: checkedVolumes) {
                try store.recordChange(appID: app.id, actor: actor, summary: summary)
            }
        }
        try apply(gitToken, to: .gitToken, of: app)
        try apply(githubToken, to: .githubToken, of: app)
        return try store.app(id: app.id) ?? app
    }

    private func apply(_ change: SecretChange, to credential: Store.CredentialColumn, of app: App) throws {
        switch change {
        case .keep: return
        case .set(let value): try store.setCredential(appID: app.id, credential, value)
        case .clear: try store.setCredential(appID: app.id, credential, nil)
        }
    }

    /// A new webhook secret; the old one stops working at once.
    public func rotateWebhookSecret(_ app: App) throws -> String {
        let secret = Secrets.newWebhookSecret()
        try store.setWebhookSecret(appID: app.id, secret)
        Log.info("app \(app.name): webhook secret rotated")
        return secret
    }

    /// Sets or clears the HTTPS token used to fetch a private repository.
    public func setGitToken(_ app: App, _ token: String?) throws {
        if let token {
            try AppValidation.secretToken(token, field: "git_token")
            try AppValidation.gitToken(usableWith: app.repoURL)
        }
        try store.setCredential(appID: app.id, .gitToken, token)
    }

    public func setGitHubToken(_ app: App, _ token: String?) throws {
        if let token { try AppValidation.secretToken(token, field: "github_token") }
        try store.setCredential(appID: app.id, .githubToken, token)
    }

    /// Makes a new SSH deploy key (replacing any old one); returns the public key to give GitHub.
    public func generateDeployKey(_ app: App) throws -> String {
        let publicKey = try git.generateDeployKey(appName: app.name)
        try store.setCredential(appID: app.id, .deployKeyPublic, publicKey)
        Log.info("app \(app.name): new deploy key")
        return publicKey
    }

    public func removeDeployKey(_ app: App) throws {
        git.removeDeployKey(appName: app.name)
        try store.setCredential(appID: app.id, .deployKeyPublic, nil)
    }

    // MARK: deploying

    /// Stores a queued deployment and hands it to the queue.
    @discardableResult
    public func deploy(_ app: App, trigger: DeploymentTrigger, ref: String? = nil, sourceDeploymentID: Int? = nil,
                       deliveryID: String? = nil, commitMessage: String? = nil, commitAuthor: String? = nil) throws -> Deployment {
        if let ref { try AppValidation.ref(ref) }
        let d = try store.createDeployment(appID: app.id, trigger: trigger, ref: ref, sourceDeploymentID: sourceDeploymentID,
                                           deliveryID: deliveryID, commitMessage: commitMessage, commitAuthor: commitAuthor)
        Log.info("deployment \(d.id) of \(app.name) queued (\(trigger.rawValue))")
        queue.enqueue(d)
        return d
    }

    /// Queues the deployment of a pushed commit; nil when the delivery was seen before.
    public func deployPush(_ app: App, sha: String, deliveryID: String?, commitMessage: String?, commitAuthor: String?) throws -> Deployment? {
        guard let d = try store.acceptPushDelivery(appID: app.id, deliveryID: deliveryID, sha: sha,
                                                   commitMessage: commitMessage, commitAuthor: commitAuthor) else { return nil }
        Log.info("deployment \(d.id) of \(app.name) queued (webhook \(deliveryID ?? "without delivery id"))")
        queue.enqueue(d)
        return d
    }

    /// Rolls back to `targetID`, or by default to the deployment that was live before the current one.
    public func rollback(_ app: App, to targetID: Int?) throws -> Deployment {
        let history = try store.deployments(appID: app.id, limit: 10_000)
        let target: Deployment
        if let targetID {
            guard let found = history.first(where: { $0.id == targetID }) else {
                throw ValidationError("deployment_id", "deployment \(targetID) is not a deployment of \(app.name)")
            }
            guard found.status == .succeeded else {
                throw ValidationError("deployment_id", "deployment \(targetID) did not succeed, so it cannot be rolled back to")
            }
            target = found
        } else {
            let live = app.liveDeploymentID ?? Int.max
            guard let previous = history.first(where: { $0.status == .succeeded && $0.id < live }) else {
                throw AppConflict.nothingToRollBackTo(app: app.name)
            }
            target = previous
        }
        return try deploy(app, trigger: .rollback, sourceDeploymentID: target.id)
    }

    public func cancel(_ deployment: Deployment) throws -> Deployment {
        guard !deployment.status.isFinished else {
            throw AppConflict.alreadyFinished(deploymentID: deployment.id, status: deployment.status)
        }
        queue.cancel(deploymentID: deployment.id)
        // A running deployment stops at its next check; wait briefly so the answer shows it.
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if let d = try store.deployment(id: deployment.id), d.status.isFinished { return d }
            usleep(50_000)
        }
        return try store.deployment(id: deployment.id) ?? deployment
    }

    // MARK: running state

    private func liveContainer(_ app: App) throws -> (deployment: Deployment, name: String) {
        guard let id = app.liveDeploymentID, let d = try store.deployment(id: id) else {
            throw AppConflict.notDeployed(app: app.name)
        }
        return (d, Naming.container(app: app.name, deployment: d.id))
    }

    public func stop(_ app: App) throws -> App {
        try locks.withLock(appID: app.id) {
            let app = try current(app)
            let (d, name) = try liveContainer(app)
            let runtime = try engines.engine(for: d.server).runtime
            upstreams.upstream(for: app.id)?.setUnavailable(.stopped)
            try store.setStatus(appID: app.id, .stopped)
            try runtime.stop(container: name, graceSeconds: Naming.stopGrace(of: app, settings: settings))
            Log.info("app \(app.name) stopped")
            return try store.app(id: app.id) ?? app
        }
    }

    public func start(_ app: App) throws -> App {
        try locks.withLock(appID: app.id) {
            let app = try current(app)
            let (d, name) = try liveContainer(app)
            try ensureRunning(app, deployment: d, name: name)
            try store.setStatus(appID: app.id, .running)
            Log.info("app \(app.name) started")
            return try store.app(id: app.id) ?? app
        }
    }

    public func restart(_ app: App) throws -> App {
        try locks.withLock(appID: app.id) {
            let app = try current(app)
            let (d, name) = try liveContainer(app)
            // An app has one container, so a restart cannot be seamless; but its clients get a
            // 503 that says so, with Retry-After, instead of a 502 from a container going away,
            // and the requests already in it finish before it is stopped.
            let live = upstreams.upstream(for: app.id)
            let runtime = try engines.engine(for: d.server).runtime
            if let live, let old = live.setUnavailable(.restarting) { live.drain(old, seconds: settings.drainSeconds) }
            try? runtime.stop(container: name, graceSeconds: Naming.stopGrace(of: app, settings: settings))
            try ensureRunning(app, deployment: d, name: name)
            try store.setStatus(appID: app.id, .running)
            Log.info("app \(app.name) restarted")
            return try store.app(id: app.id) ?? app
        }
    }

    /// The app as stored now: another request may have changed or deleted it while this one waited for its lock.
    private func current(_ app: App) throws -> App {
        guard let now = try store.app(id: app.id) else { throw StoreError.appGone(app.name) }
        return now
    }

    /// Starts the live container, re-creating it from its image when it is gone, and points the port at it.
    func ensureRunning(_ app: App, deployment d: Deployment, name: String) throws {
        let engine = try engines.engine(for: d.server)
        let runtime = engine.runtime
        let state = try runtime.state(container: name)
        if state == nil {
            guard let image = d.image else { throw AppConflict.liveImageMissing(app: app.name) }
            let env = try store.env(appID: app.id)
            var spec = Naming.containerSpec(of: app, name: name, image: image, deployment: d.id, envNames: env.map(\.name), settings: settings)
            spec.publishHost = engine.publishHost
            _ = try runtime.run(spec, env: env.map { ($0.name, $0.value) }, log: .discard())
        } else if state?.isRunning == false {
            try runtime.start(container: name)
        }
        let endpoints = try runtime.endpoints(container: name, internalPort: app.internalPort)
        upstreams.upstream(for: app.id)?.setUpstream(host: engine.publishHost, port: endpoints.hostPort,
                                                       direct: engine.reachesBridge ? endpoints.bridge.map { ($0, app.internalPort) } : nil,
                                                       deploymentID: d.id)
    }

    public func runtimeLogs(_ app: App, tail: Int) throws -> String {
        let (d, name) = try liveContainer(app)
        return try engines.engine(for: d.server).runtime.logs(container: name, tail: tail)
    }

    // MARK: deleting

    private func removeContainersAndImages(of app: App, labels: [String], on runtime: any ContainerRuntime) throws {
        for container in try runtime.containers(labels: labels) {
            try runtime.remove(container: container.id)
        }
        // By id, so images that lost their name (a removal raced a container) go too.
        for image in try runtime.images(labels: labels) {
            Log.attempt("app \(app.name): removing image \(image.reference ?? image.id)") { try runtime.removeImage(image.id) }
        }
    }

    /// Removes everything of the app: deployments in flight, containers, images, mirror, logs, port
    /// and rows; its volumes (their data) only when `volumes` says so, else they are left for
    /// `leftVolumes` to list.
    public func delete(_ app: App, volumes deleteVolumes: Bool = false) throws {
        queue.cancelAll(appID: app.id)
        try locks.withLock(appID: app.id) {
            guard try store.app(id: app.id) != nil else { return }
            forwarders.remove(appID: app.id)
            upstreams.remove(appID: app.id)
            let labels = ["\(Naming.appLabel)=\(app.name)", "\(Naming.instanceLabel)=\(settings.instanceID)"]
            let history = try store.deployments(appID: app.id, limit: 100_000)
            try removeContainersAndImages(of: app, labels: labels, on: runtime)
            // On every other server it ran on: best effort, a server that is gone cannot keep the app.
            for server in Set(history.map(\.server) + [app.server]).subtracting([Server.localName]).sorted() {
                do {
                    try removeContainersAndImages(of: app, labels: labels, on: try engines.engine(for: server).runtime)
                } catch {
                    Log.warning("app \(app.name): cannot remove its containers and images on \(server): \(error)")
                }
            }
            for d in history {
                try? FileManager.default.removeItem(atPath: settings.logPath(deploymentID: d.id))
            }
            git.remove(appName: app.name)
            deployer.metrics.forget(app: app.name)
            if deleteVolumes {
                // Its containers are gone, so nothing holds its volumes. By label, so volumes the
                // app no longer listed go too.
                for volume in try runtime.volumes(labels: labels) {
                    try runtime.removeVolume(volume.name)
                    Log.info("app \(app.name): volume \(volume.name) deleted")
                }
            }
            try store.deleteApp(id: app.id)
            // Always: the caller's copy of the app may predate a change to its domains.
            republishDomains()
            locks.forget(appID: app.id)
            Log.info("app \(app.name) deleted")
        }
    }

    // MARK: volumes left behind

    /// A volume Slipway made that no app lists now: its app was deleted without its volumes, or
    /// took the volume off its list. Its data stays until it is deleted here.
    public struct LeftVolume: Sendable, Equatable {
        public var name: String
        /// The app it was made for, which may not exist any more.
        public var app: String
        /// As Docker shows it ("12.5MB"); nil when Docker did not say.
        public var size: String?
    }

    public func leftVolumes(withSizes: Bool) throws -> [LeftVolume] {
        let listed = Set(try store.apps().flatMap { app in app.volumes.map { AppVolume.dockerName(app: app.name, volume: $0.name) } })
        let left = try runtime.volumes(labels: ["\(Naming.instanceLabel)=\(settings.instanceID)"]).filter { !listed.contains($0.name) }
        let sizes = withSizes && !left.isEmpty ? try runtime.volumeSizes() : [:]
        return left.map { LeftVolume(name: $0.name, app: $0.app, size: sizes[$0.name]) }.sorted { $0.name < $1.name }
    }

    /// Deletes a volume left behind, with its data; false when Slipway has no volume of that
    /// name. One an app lists is refused.
    public func deleteLeftVolume(named name: String) throws -> Bool {
        guard try leftVolumes(withSizes: false).contains(where: { $0.name == name }) else {
            if try store.apps().contains(where: { app in app.volumes.contains { AppVolume.dockerName(app: app.name, volume: $0.name) == name } }) {
                throw AppConflict.volumeInUse(volume: name)
            }
            return false
        }
        try runtime.removeVolume(name)
        Log.info("volume \(name) deleted")
        return true
    }

    public func shutdown() {
        forwarders.closeAll()
    }
}
