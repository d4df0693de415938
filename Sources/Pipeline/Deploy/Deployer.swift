import Edge
import Dispatch
import FoundationEssentials
import SlipwaySystem

/// Runs one deployment through its steps: clone → build → start → check → swap → record.
/// Whatever fails, the version that was live keeps serving: the old container is only touched
/// after the new one has passed its health check and taken over the port.
public final class Deployer: Sendable {
    let store: Store
    /// Each server's engine; a deployment runs on its app's server.
    let engines: Engines
    let git: any GitSource
    let settings: PipelineSettings
    let upstreams: UpstreamRegistry
    let statuses: any CommitStatusReporter
    /// Told how each deployment ended, for the apps' notification targets.
    let notifications: NotificationQueue?
    /// Counts each deployment that ends, for /metrics.
    public let metrics = DeploymentMetrics()
    /// Status posts go out in order (pending before success) without holding up the deployment.
    private let statusQueue = DispatchQueue(label: "slipway.commit-status")
    let reserve: DiskReserve

    public init(store: Store, engines: Engines, git: any GitSource, settings: PipelineSettings, upstreams: UpstreamRegistry,
                statuses: any CommitStatusReporter = NoCommitStatus(), notifications: NotificationQueue? = nil) {
        self.statuses = statuses
        self.notifications = notifications
        self.reserve = DiskReserve(dataDir: settings.dataDir)
        self.store = store
        self.engines = engines
        self.git = git
        self.settings = settings
        self.upstreams = upstreams
    }

    /// Runs `deploymentID` to a terminal state. Never throws: failures are recorded on the deployment.
    public func execute(deploymentID: Int, cancellation: Cancellation) {
        guard var deployment = try? store.deployment(id: deploymentID), deployment.status == .queued,
              let app = try? store.app(id: deployment.appID) else { return }
        let log = DeploymentLog(path: settings.logPath(deploymentID: deploymentID))
        defer { log.close() }
        let statusBefore = app.status
        deployment.startedAt = Timestamp.now()
        deployment.logPath = log.path
        log.line("deployment \(deployment.id) of \(app.name) (trigger: \(deployment.trigger.rawValue))")
        Log.attempt("deployment \(deployment.id): recording its start") { try store.save(deployment) }
        Log.attempt("app \(app.name): recording that it deploys") { try store.setStatus(appID: app.id, .deploying) }

        let progress = Progress(deployment)
        do {
            try run(progress, app: app, log: log, cancellation: cancellation)
        } catch {
            deployment = progress.d
            let createdContainer = progress.createdContainer, builtImage = progress.builtImage
            let runtime = progress.engine?.runtime ?? engines.local.runtime
            let cancelled = error is DeploymentCancelled || cancellation.isCancelled
            let skipped = error as? DeploymentSkipped
            var message = cancelled ? "cancelled" : skipped.map { "skipped: \($0.reason)" } ?? Self.describe(error)
            // The engine is asked only once something failed, so a healthy deployment pays nothing.
            if !cancelled, error is ContainerError, !runtime.isAvailable() {
                message = progress.engine.map { $0.server == Server.localName } ?? true
                    ? "Docker is unavailable: cannot reach the Docker engine (\(message))"
                    : "the server \(app.server) is unavailable: cannot reach its Docker engine (\(message))"
            }
            log.line(cancelled ? "deployment cancelled" : skipped != nil ? "deployment \(message); the live version stays" : "deployment failed: \(message)")
            if let createdContainer {
                if !cancelled, let tail = try? runtime.logs(container: createdContainer, tail: 30), !tail.isEmpty {
                    log.line("last lines of the new container's log:")
                    tail.split(separator: "\n").forEach { log.output(String($0)) }
                }
                try? runtime.remove(container: createdContainer)
            }
            if let builtImage { Log.attempt("deployment \(deployment.id): removing its image") { try runtime.removeImage(builtImage) } }
            deployment.status = cancelled ? .cancelled : skipped != nil ? .skipped : .failed
            deployment.error = message
            deployment.finishedAt = Timestamp.now()
            let failed = deployment
            do {
                try reserve.writing { try store.save(failed) }
            } catch {
                Log.error("deployment \(failed.id): cannot record its failure: \(error)")
            }
            if skipped == nil {
                notify(app, deployment, cancelled ? .error : .failure, cancelled ? "Deployment cancelled" : "Deployment failed: \(message)")
            }
            let current = try? store.app(id: app.id)
            let restored: AppStatus = current?.liveDeploymentID == nil ? .failed : (statusBefore == .deploying || statusBefore == .new ? .running : statusBefore)
            Log.attempt("app \(app.name): restoring its status after a failed deployment") {
                try reserve.writing { try store.setStatus(appID: app.id, restored) }
            }
        }
        // Queued in SQLite for the sender's thread: the deployment is done by now.
        if let ended = try? store.deployment(id: deploymentID), ended.status.isFinished {
            metrics.record(app: app.name, ended)
            notifications?.deploymentFinished(app, ended)
        }
        reserve.ensure()
    }

    /// The deployment being run, and what it created that a failure must remove.
    private final class Progress {
        var d: Deployment
        var createdContainer: String?
        var builtImage: String?
        /// The app's server's engine, once known.
        var engine: Engine?
        init(_ d: Deployment) { self.d = d }
    }

    private func run(_ p: Progress, app: App, log: DeploymentLog, cancellation: Cancellation) throws {
        let engine = try engines.engine(for: app.server)
        let runtime = engine.runtime
        p.engine = engine
        p.d.server = engine.server
        if engine.server != Server.localName { log.line("server \(engine.server): its Docker engine over SSH, published on \(engine.publishHost)") }
        var image: String?
        if p.d.trigger == .rollback, let sourceID = p.d.sourceDeploymentID, let source = try store.deployment(id: sourceID) {
            p.d.commitSHA = source.commitSHA
            p.d.commitMessage = source.commitMessage
            p.d.commitAuthor = source.commitAuthor
            p.d.ref = source.commitSHA
            if let sourceImage = source.image, source.server == engine.server, runtime.imageExists(sourceImage) {
                log.line("rolling back to deployment \(sourceID): reusing image \(sourceImage), no build")
                image = sourceImage
            } else if source.server != engine.server {
                log.line("deployment \(sourceID) ran on \(source.server), whose images stay there: rebuilding commit \(source.commitSHA ?? "?") on \(engine.server)")
            } else {
                log.line("image of deployment \(sourceID) was pruned: rebuilding commit \(source.commitSHA ?? "?")")
            }
        }

        if image == nil {
            try timed(p, .cloning, "clone", log) {
                let commit = try git.fetchAndResolve(app: app, revision: p.d.ref, log: log, cancellation: cancellation)
                p.d.commitSHA = commit.sha
                if p.d.trigger == .webhook {
                    // Only the branch's tip is deployed from a push: a delivery replayed later, or
                    // one overtaken by a newer push, must not put older code live.
                    let tip = try git.branchTip(app: app)
                    guard tip == commit.sha else {
                        throw DeploymentSkipped(reason: tip.map { "\(commit.sha) is no longer the tip of \(app.branch), which is now \($0)" }
                                                ?? "branch \(app.branch) no longer exists")
                    }
                }
                if p.d.trigger != .webhook || p.d.commitMessage == nil { p.d.commitMessage = commit.subject }
                if p.d.trigger != .webhook || p.d.commitAuthor == nil { p.d.commitAuthor = commit.author }
                log.line("commit \(commit.sha): \(commit.subject) (\(commit.author))")
                notify(app, p.d, .pending, "Deploying to Slipway")
            }
            try checkCancelled(cancellation)
            try timed(p, .building, "build", log) {
                try FileManager.default.createDirectory(atPath: settings.buildsDir, withIntermediateDirectories: true)
                let context = settings.buildsDir + "/context-\(p.d.id).tar"
                defer { try? FileManager.default.removeItem(atPath: context) }
                try git.exportTree(app: app, sha: p.d.commitSHA!, to: context, log: log)
                let tag = Naming.image(app: app.name, deployment: p.d.id)
                p.builtImage = tag
                try runtime.build(tag: tag, labels: Naming.labels(app: app.name, deployment: p.d.id, settings: settings),
                                  contextTar: context, timeoutSeconds: settings.buildTimeoutSeconds, log: log, cancellation: cancellation)
                p.d.image = tag
            }
        } else {
            p.d.image = image
            notify(app, p.d, .pending, "Rolling back on Slipway")
        }
        try checkCancelled(cancellation)

        var hostPort = 0
        var bridge: String?
        try timed(p, .starting, "start", log) {
            let env = try store.env(appID: app.id)
            // The app's settings as they are now: a rollback mounts today's volumes, not the old ones.
            var spec = Naming.containerSpec(of: app, name: Naming.container(app: app.name, deployment: p.d.id), image: p.d.image!,
                                            deployment: p.d.id, envNames: env.map(\.name), settings: settings)
            spec.publishHost = engine.publishHost
            if !spec.mounts.isEmpty { log.line("volumes: " + spec.mounts.map { "\($0.source) at \($0.target)" }.joined(separator: ", ")) }
            p.createdContainer = spec.name
            do {
                p.d.containerID = try runtime.run(spec, env: env.map { ($0.name, $0.value) }, log: log)
            } catch let error as ContainerError where error.message.hasOccurrence(of: "already in use") {
                // A container of this name is left from an attempt that got this far before. Removing
                // it only then, rather than before every run, saves a docker call per deployment.
                log.line("removing the container \(spec.name) left by an earlier attempt")
                try runtime.remove(container: spec.name)
                p.d.containerID = try runtime.run(spec, env: env.map { ($0.name, $0.value) }, log: log)
            }
            do {
                let endpoints = try runtime.endpoints(container: spec.name, internalPort: app.internalPort)
                hostPort = endpoints.hostPort
                bridge = endpoints.bridge
            } catch {
                // No published port usually means the container already died (and docker is
                // between restarts); say that rather than docker's complaint about ports.
                if let state = try? runtime.state(container: spec.name), !state.isRunning {
                    throw DeployError("the container \(state.exitDescription) right after it started")
                }
                throw error
            }
            log.line("container \(spec.name) listening on \(engine.publishHost):\(hostPort)")
        }

        try timed(p, .checking, "check", log) {
            let container = p.createdContainer!
            log.line("health check: GET \(app.healthPath) on \(engine.publishHost):\(hostPort), up to \(Int(settings.healthTimeoutSeconds)) s")
            let outcome = HealthCheck.wait(host: engine.publishHost, port: hostPort, path: app.healthPath, timeoutSeconds: settings.healthTimeoutSeconds,
                                           containerState: { try? runtime.state(container: container) },
                                           cancellation: cancellation, log: log)
            switch outcome {
            case .healthy(let status): log.line("health check passed (HTTP \(status))")
            case .exited(let state): throw DeployError("the container \(state.exitDescription) before passing its health check")
            case .timedOut(let problem): throw DeployError("health check failed: GET \(app.healthPath) did not answer below 500 within \(Int(settings.healthTimeoutSeconds)) s (\(problem))")
            case .cancelled: throw DeploymentCancelled()
            }
        }
        try checkCancelled(cancellation)

        // The swap: from here the deployment cannot fail, so it is no longer cancellable.
        let started = Date()
        log.step("swap")
        let previous = app.liveDeploymentID.flatMap { try? store.deployment(id: $0) }
        // New connections to the port and new requests at the HTTP edge go to the new container
        // from here; those in flight finish on the old one, which the drain below waits for.
        let live = upstreams.upstream(for: app.id)
        let oldUpstream = live?.setUpstream(host: engine.publishHost, port: hostPort,
                                            direct: engine.reachesBridge ? bridge.map { ($0, app.internalPort) } : nil, deploymentID: p.d.id)
        // Under --app-ports off no port is open, whatever the app has stored.
        let servedPort = settings.appPorts == nil ? nil : app.port
        log.line(servedPort.map { "port \($0) now forwards to the new container" } ?? "the new container is live; the app has no open port")
        p.d.steps.append(("swap", Int(Date().timeIntervalSince(started) * 1000)))
        p.d.status = .succeeded
        p.d.finishedAt = Timestamp.now()
        try store.markLive(p.d)
        p.createdContainer = nil
        p.builtImage = nil
        log.line("deployment \(p.d.id) is live")
        notify(app, p.d, .success, servedPort.map { "Live on port \($0)" } ?? "Live")

        // The old container still runs on its image while it drains: that image is pruned, if
        // it is one too many, once the container is gone (a forced removal of an image in use
        // only untags it, and leaves a nameless image behind for good).
        pruneImages(app: app, log: log, sparing: previous?.image, on: engine)
        if let previous {
            let drain = settings.drainSeconds, grace = Naming.stopGrace(of: app, settings: settings)
            // The old container is on the server the previous deployment ran on: another one
            // when the app has just moved.
            let oldEngine = (try? engines.engine(for: previous.server)) ?? engine
            let runtime = oldEngine.runtime
            if previous.server != engine.server { log.line("the app moved from \(previous.server) to \(engine.server): its old container there stops after the drain") }
            let name = Naming.container(app: app.name, deployment: previous.id)
            let logPath = log.path
            // Draining waits for open connections and requests in flight, so it runs off this
            // worker, freeing it for the next deployment.
            OSThread.detach(name: "drain") { [self] in
                if let oldUpstream, let live { live.drain(oldUpstream, seconds: drain) }
                Log.attempt("app \(app.name): stopping the old container \(name)") { try runtime.stop(container: name, graceSeconds: grace) }
                Log.attempt("app \(app.name): removing the old container \(name)") { try runtime.remove(container: name) }
                let log = DeploymentLog(path: logPath)
                pruneImages(app: app, log: log, sparing: nil, on: engine)
                log.close()
            }
        }
    }

    private func notify(_ app: App, _ d: Deployment, _ state: CommitState, _ description: String) {
        guard app.githubToken != nil else { return }
        let statuses = self.statuses
        statusQueue.async { statuses.report(app: app, deployment: d, state: state, description: description) }
    }

    /// Keeps the images of the last N succeeded deployments, and `sparing` (an image a container
    /// still runs on); history rows stay.
    func pruneImages(app: App, log: DeploymentLog, sparing: String?, on engine: Engine) {
        let runtime = engine.runtime
        guard let history = try? store.deployments(appID: app.id, limit: 10_000) else { return }
        // Each server keeps its own images: the last N of those built there.
        let succeeded = history.filter { $0.status == .succeeded && $0.image != nil && $0.server == engine.server }
        var kept = Set<String>()
        for d in succeeded where kept.count < settings.keepImages { kept.insert(d.image!) }
        var candidates = Set(succeeded.compactMap(\.image)).subtracting(kept)
        if let sparing { candidates.remove(sparing) }
        // Most deployments have nothing to prune, and pay no docker call for it.
        guard !candidates.isEmpty else { return }
        // Only images the engine still has: the ones earlier deployments pruned are gone, and
        // asking for each again cost a docker process per old deployment, every deployment.
        let labels = ["\(Naming.appLabel)=\(app.name)", "\(Naming.instanceLabel)=\(settings.instanceID)"]
        let present: Set<String>
        do {
            present = Set(try runtime.images(labels: labels).compactMap(\.reference))
        } catch {
            log.line("cannot list old images to prune: \(error)")
            return
        }
        for image in candidates.intersection(present).sorted() {
            do {
                if try runtime.removeImage(image) == .removed { log.line("pruned old image \(image)") }
            } catch {
                log.line("cannot prune old image \(image): \(error)")
            }
        }
    }

    private func timed(_ p: Progress, _ status: DeploymentStatus, _ step: String, _ log: DeploymentLog, _ body: () throws -> Void) throws {
        guard p.d.status.canMove(to: status) else {
            throw DeployError("internal error: a deployment cannot go from \(p.d.status.rawValue) to \(status.rawValue)")
        }
        p.d.status = status
        try store.save(p.d)
        log.step(step)
        let started = Date()
        defer {
            p.d.steps.append((step, Int(Date().timeIntervalSince(started) * 1000)))
            Log.attempt("deployment \(p.d.id): recording step \(step)") { try store.save(p.d) }
        }
        try body()
    }

    private func checkCancelled(_ cancellation: Cancellation) throws {
        if cancellation.isCancelled { throw DeploymentCancelled() }
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? SQLiteError, e.isDiskFull { return "the data directory's disk is full" }
        if let e = error as? CocoaError, e.code == .fileWriteOutOfSpace { return "the data directory's disk is full" }
        return String(describing: error)
    }
}

public struct DeployError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Ends a deployment of a pushed commit that is no longer its branch's tip: not a failure, and
/// the live version is left alone.
struct DeploymentSkipped: Error, CustomStringConvertible {
    let reason: String
    var description: String { "skipped: \(reason)" }
}
