import Edge
import FoundationEssentials
import Glibc
import SlipwaySystem
import Synchronization

/// Brings apps back after a crash of Slipway, a container or the Docker engine, and keeps each
/// app's status true to what its container is doing.
///
/// At start-up it settles what the last run left behind; then it looks every couple of seconds
/// with a single `docker ps`. It never touches a container without this instance's label.
public final class AppSupervisor: Sendable {
    private let service: AppService
    private let recovered = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let paused = Atomic<Bool>(false)
    /// Other servers that could not be reached: when to look again, and the backoff that led there.
    private let remote = Mutex<[String: (next: Int, backoff: Int)]>([:])
    /// Held through each look, so `pause` can wait for the one under way.
    private let ticking = Mutex(())
    private let dockerAvailable = Atomic<Bool>(false)

    public init(service: AppService) {
        self.service = service
    }

    public var isDockerAvailable: Bool { dockerAvailable.load(ordering: .relaxed) }

    /// Marks deployments the last run left unfinished as interrupted and opens every app's port
    /// (none under `--app-ports off`). Runs before the server accepts requests; needs no Docker.
    public func prepare() throws {
        let store = service.store
        var waiting: [Deployment] = []
        for var d in try store.unfinishedDeployments() {
            // One that never started has nothing to interrupt: it runs once the queue resumes
            // (queued during an upgrade's hand-over, or just before a crash).
            if d.status == .queued {
                waiting.append(d)
                continue
            }
            d.status = .interrupted
            d.error = "interrupted: Slipway stopped before this deployment finished"
            d.finishedAt = Timestamp.now()
            let log = DeploymentLog(path: service.settings.logPath(deploymentID: d.id))
            log.line("deployment interrupted: Slipway stopped before it finished")
            log.close()
            d.logPath = log.path
            try store.save(d)
            Log.warning("deployment \(d.id) of \(d.appName) was interrupted by a restart")
        }
        for d in waiting {
            Log.info("deployment \(d.id) of \(d.appName) was queued before the restart: it runs now")
            service.queue.enqueue(d)
        }
        // A build the killed run started may still be going: it would tag an image for a deployment
        // that is interrupted now.
        for pid in OrphanedProcesses.killLeftovers(in: service.settings.buildsDir, marker: "slipway/") {
            Log.warning("killed docker build process \(pid), left running by the previous run")
        }
        // Build contexts are only needed while their build runs; none runs now.
        for file in (try? FileManager.default.contentsOfDirectory(atPath: service.settings.buildsDir)) ?? [] {
            try? FileManager.default.removeItem(atPath: service.settings.buildsDir + "/" + file)
        }
        for app in try store.apps() {
            if app.status == .deploying {
                try store.setStatus(appID: app.id, app.liveDeploymentID == nil ? .failed : .running)
            }
            // Every app has its live upstream, which the HTTP edge routes to, port or not.
            let live = LiveUpstream(appName: app.name, unavailability: app.status == .stopped ? .stopped
                                    : app.liveDeploymentID == nil ? .notDeployed : .starting,
                                    maxRequestBody: app.maxRequestBody)
            live.redirectsToHTTPS = app.httpsRedirect
            live.sendsHSTS = app.hsts
            service.upstreams.set(live, for: app.id)
            guard let range = service.settings.appPorts else { continue }
            guard let port = app.port else {
                givePort(app, from: range, upstream: live)
                continue
            }
            do {
                let forwarder = try PortForwarder(host: service.settings.bindHost, port: port, upstream: live,
                                                  maxConnections: service.settings.maxAppConnections)
                service.forwarders.set(forwarder, for: app.id)
            } catch {
                Log.error("app \(app.name): cannot listen on port \(port): \(error)")
            }
        }
    }

    /// An app made while `--app-ports` was off gets a port once ports are served: otherwise
    /// nothing would reach it until the HTTP edge does.
    private func givePort(_ app: App, from range: ClosedRange<Int>, upstream: LiveUpstream) {
        do {
            let forwarder = try PortAllocator.allocate(range: range, used: try service.store.usedPorts(), host: service.settings.bindHost,
                                                       upstream: upstream, maxConnections: service.settings.maxAppConnections)
            do {
                try service.store.setPort(appID: app.id, forwarder.port)
            } catch {
                forwarder.close()
                throw error
            }
            service.forwarders.set(forwarder, for: app.id)
            Log.info("app \(app.name) had no port (made under --app-ports off): it now has port \(forwarder.port)")
        } catch {
            Log.error("app \(app.name) has no port and cannot get one: \(error)")
        }
    }

    /// Starts the periodic loop on a thread of its own; `afterFirstTick` runs once recovery has had its chance.
    public func start(afterFirstTick: @escaping @Sendable () -> Void = {}) {
        OSThread.detach(name: "supervisor") { [self] in
            var first = true
            while !stopped.load(ordering: .acquiring) {
                if !paused.load(ordering: .acquiring) { tick() }
                if first {
                    first = false
                    afterFirstTick()
                }
                var waited = 0.0
                while waited < service.settings.supervisorIntervalSeconds && !stopped.load(ordering: .acquiring) {
                    usleep(100_000)
                    waited += 0.1
                }
            }
        }
    }

    public func stop() { stopped.store(true, ordering: .releasing) }

    /// Looks no more until `resume`, leaving the apps to the process an upgrade hands over to
    /// (two supervisors would both restart a crashed container). Waits for a look under way.
    public func pause() {
        paused.store(true, ordering: .releasing)
        ticking.withLock { _ in }
    }

    public func resume() { paused.store(false, ordering: .releasing) }

    /// One look at Docker: recover on the first success, then reconcile statuses.
    public func tick() {
        ticking.withLock { _ in
            guard !paused.load(ordering: .acquiring) else { return }
            look()
        }
    }

    private func look() {
        service.store.checkpoint(truncate: false)
        service.upstreams.closeExpiredIdleConnections()
        let available = service.runtime.isAvailable()
        let was = dockerAvailable.exchange(available, ordering: .acquiringAndReleasing)
        guard available else {
            if was { Log.warning("the Docker engine is unavailable") }
            // Other servers' engines do not depend on this one.
            if recovered.load(ordering: .acquiring) { Log.attempt("supervisor: looking at the other servers") { try reconcile(localToo: false) } }
            return
        }
        if !was { Log.info("the Docker engine is available") }
        do {
            if !recovered.load(ordering: .acquiring) {
                try recover()
                recovered.store(true, ordering: .releasing)
            }
            try reconcile()
            try adoptQueuedDeployments()
        } catch {
            Log.error("supervisor: \(error)")
        }
    }

    /// Deployments stored as queued that this process's queue does not have: the process an
    /// upgrade took over from queued them after this one had started (a webhook it was still
    /// answering). Only those a few seconds old: a request may be between storing and queueing.
    func adoptQueuedDeployments(now: Date = Date()) throws {
        for d in try service.store.unfinishedDeployments() where d.status == .queued && !service.queue.has(deploymentID: d.id) {
            guard let created = Timestamp.parse(d.createdAt), now.timeIntervalSince(created) >= 5,
                  let fresh = try service.store.deployment(id: d.id), fresh.status == .queued,
                  !service.queue.has(deploymentID: d.id) else { continue }
            Log.info("deployment \(d.id) of \(d.appName) was queued by the process before this one: it runs here")
            service.queue.enqueue(fresh)
        }
    }

    private var instanceLabel: String { "\(Naming.instanceLabel)=\(service.settings.instanceID)" }

    /// Once per run: remove leftovers of interrupted deployments and labelled orphans, start live apps.
    func recover() throws {
        let store = service.store
        let apps = try store.apps()
        var liveNames = Set<String>()
        for app in apps {
            if let id = app.liveDeploymentID { liveNames.insert(Naming.container(app: app.name, deployment: id)) }
        }
        for container in try service.runtime.containers(labels: [instanceLabel]) where !liveNames.contains(container.name) {
            // A deployment running right now (queued after start-up) is not an orphan.
            if let appName = container.labels[Naming.appLabel], let app = apps.first(where: { $0.name == appName }),
               service.queue.isBusy(appID: app.id) { continue }
            Log.info("removing leftover container \(container.name)")
            try? service.runtime.remove(container: container.id)
        }
        // Images of deployments that never succeeded are of no use for rollback.
        for app in apps {
            let history = try store.deployments(appID: app.id, limit: 10_000)
            for d in history where d.status == .interrupted || d.status == .failed || d.status == .cancelled {
                if let image = d.image, !history.contains(where: { $0.status == .succeeded && $0.image == image }) {
                    Log.attempt("removing leftover image \(image)") { try service.runtime.removeImage(image) }
                }
            }
        }
        for listed in apps {
            try service.locks.withLock(appID: listed.id, changes: false) {
                // Requests are answered while this runs: the app may have been stopped or deleted.
                guard let app = try store.app(id: listed.id), app.status != .stopped,
                      let id = app.liveDeploymentID, let d = try store.deployment(id: id) else { return }
                do {
                    try service.ensureRunning(app, deployment: d, name: Naming.container(app: app.name, deployment: id))
                    if app.status != .running { try store.setStatus(appID: app.id, .running) }
                    Log.info("app \(app.name) serving" + (service.forwarders.forwarder(for: app.id).map { " on port \($0.port)" } ?? ""))
                } catch {
                    // On another server that cannot be reached now, the container may well run.
                    let status: AppStatus = d.server == Server.localName ? .crashed : .unknown
                    Log.error("app \(app.name) could not be started: \(error)")
                    Log.attempt("app \(app.name): marking it \(status.rawValue)") { try store.setStatus(appID: app.id, status) }
                }
            }
        }
    }

    /// Marks apps crashed or running by what their live container does, and follows port changes
    /// (a container restarted by Docker may be published on a new port): on this machine, then
    /// on each other server that has live containers. A server that cannot be reached marks its
    /// apps `unknown` (their containers may run on) and is tried again with backoff.
    func reconcile(localToo: Bool = true) throws {
        let store = service.store
        let liveServers = try store.liveDeploymentServers()
        var byServer: [String: [App]] = [:]
        for app in try store.apps() { byServer[liveServers[app.id] ?? Server.localName, default: []].append(app) }
        if localToo { try reconcile(byServer[Server.localName] ?? [], on: service.engines.local) }
        for (server, apps) in byServer.sorted(by: { $0.key < $1.key }) where server != Server.localName {
            guard remoteDue(server) else { continue }
            do {
                try reconcile(apps, on: try service.engines.engine(for: server))
                remoteReached(server)
            } catch {
                remoteFailed(server, error: error, apps: apps)
            }
        }
    }

    private func reconcile(_ apps: [App], on engine: Engine) throws {
        let store = service.store
        var generation = service.locks.generation
        var containers = try engine.runtime.containers(labels: [instanceLabel])
        for listed in apps {
            try service.locks.withLock(appID: listed.id, changes: false) {
                // Read again under the lock: a stop, restart or delete may have finished since the
                // listing, and a container it removed must not be taken for one that went missing.
                guard let app = try store.app(id: listed.id) else { return }
                if app != listed || service.locks.generation != generation {
                    generation = service.locks.generation
                    containers = try engine.runtime.containers(labels: [instanceLabel])
                }
                try reconcile(app, containers: containers, engine: engine)
            }
        }
    }

    // MARK: other servers

    /// Whether the server's backoff has passed.
    private func remoteDue(_ server: String) -> Bool {
        remote.withLock { $0[server].map { monotonicMilliseconds() >= $0.next } ?? true }
    }

    private func remoteReached(_ server: String) {
        let was = remote.withLock { $0.removeValue(forKey: server) }
        if was != nil { Log.info("server \(server) is reachable again: its apps are reconciled") }
    }

    private func remoteFailed(_ server: String, error: any Error, apps: [App]) {
        let backoff = remote.withLock { states -> Int in
            let next = min(max((states[server]?.backoff ?? 1_000) * 2, 2_000), 60_000)
            states[server] = (monotonicMilliseconds() + next, next)
            return next
        }
        Log.warning("server \(server) cannot be reached (\(error)); its apps are unknown; trying again in \(backoff / 1000) s")
        for app in apps where app.status == .running || app.status == .crashed {
            Log.attempt("app \(app.name): marking it unknown") { try service.store.setStatus(appID: app.id, .unknown) }
        }
    }

    private func reconcile(_ app: App, containers: [ContainerInfo], engine: Engine) throws {
        let store = service.store
        guard let id = app.liveDeploymentID, app.status != .stopped, app.status != .deploying else { return }
        if service.queue.isRunning(appID: app.id) { return }
        let name = Naming.container(app: app.name, deployment: id)
        let container = containers.first { $0.name == name }
        // Listed on another server's engine than its live deployment's: it went live (or moved)
        // between the listing and now; the next look sees it where it is.
        if container == nil || container?.running == false, try store.deployment(id: id)?.server != engine.server { return }
        let live = service.upstreams.upstream(for: app.id)
        if let container, container.running, let port = container.hostPort {
            // A new published port means Docker restarted the container: its bridge address may be new too.
            if let live, live.current?.port != port || live.current?.host != engine.publishHost {
                let bridge = engine.reachesBridge ? engine.runtime.bridgeAddress(container: name) : nil
                live.setUpstream(host: engine.publishHost, port: port, direct: bridge.map { ($0, app.internalPort) }, deploymentID: id)
            }
            if app.status != .running {
                try store.setStatus(appID: app.id, .running)
                Log.info("app \(app.name) is running again")
                if app.status == .crashed { service.notifications?.appStatusChanged(app, crashed: false) }
            }
        } else if container == nil {
            // Gone (removed by hand, or lost with the engine): re-create it from its image.
            guard let d = try store.deployment(id: id) else { return }
            Log.warning("app \(app.name): live container missing, re-creating it")
            do {
                try service.ensureRunning(app, deployment: d, name: name)
                try store.setStatus(appID: app.id, .running)
                if app.status == .crashed { service.notifications?.appStatusChanged(app, crashed: false) }
            } catch {
                Log.error("app \(app.name): cannot re-create its container: \(error)")
                if app.status != .crashed {
                    try store.setStatus(appID: app.id, .crashed)
                    service.notifications?.appStatusChanged(app, crashed: true)
                }
            }
        } else if app.status == .unknown, let d = try store.deployment(id: id) {
            // Its server is back, and its engine did not restart the container (the engine was
            // killed with it): started again, as after a restart of this machine's engine.
            Log.info("app \(app.name): its server is back; starting its container again")
            do {
                try service.ensureRunning(app, deployment: d, name: name)
                try store.setStatus(appID: app.id, .running)
            } catch {
                Log.error("app \(app.name): cannot start its container again: \(error)")
                try store.setStatus(appID: app.id, .crashed)
                service.notifications?.appStatusChanged(app, crashed: true)
            }
        } else if app.status != .crashed {
            try store.setStatus(appID: app.id, .crashed)
            Log.warning("app \(app.name) crashed: its container is not running")
            service.notifications?.appStatusChanged(app, crashed: true)
        }
    }
}
