import FoundationEssentials
import Glibc
import SlipwaySystem
import Synchronization

/// One deployment at a time per app, up to `maxBuilds` apps at once on each server (each server
/// builds on its own engine, so one busy or slow server never holds up deployments to another).
/// A deployment that arrives while another of the same app is waiting supersedes the waiting
/// one: only the newest matters.
public final class DeploymentQueue: Sendable {
    private struct State {
        var running: [Int: (deploymentID: Int, cancellation: Cancellation, server: String)] = [:]
        /// appID → the one deployment waiting for that app.
        var waiting: [Int: Int] = [:]
        /// Apps with a waiting deployment, in arrival order.
        var order: [Int] = []
        var workers = 0
        /// The server each waiting app deploys to, and deployments running per server.
        var servers: [Int: String] = [:]
        var busy: [String: Int] = [:]
        var paused = false
    }

    private let state = Mutex(State())
    private let store: Store
    private let deployer: Deployer
    private let maxBuilds: Int
    private let settings: PipelineSettings

    public init(store: Store, deployer: Deployer, settings: PipelineSettings) {
        self.store = store
        self.deployer = deployer
        self.maxBuilds = settings.maxBuilds
        self.settings = settings
    }

    /// Queues a deployment already stored with status queued (again: nothing).
    public func enqueue(_ deployment: Deployment) {
        let server = (try? store.app(id: deployment.appID))?.server ?? Server.localName
        let superseded = state.withLock { s -> (id: Int, by: Int)? in
            s.servers[deployment.appID] = server
            if s.waiting[deployment.appID] == deployment.id || s.running[deployment.appID]?.deploymentID == deployment.id { return nil }
            // An older one adopted after a newer arrived (an upgrade's hand-over) loses to it.
            if let newer = s.waiting[deployment.appID], newer > deployment.id { return (deployment.id, newer) }
            let old = s.waiting[deployment.appID]
            s.waiting[deployment.appID] = deployment.id
            if old == nil { s.order.append(deployment.appID) }
            return old.map { ($0, deployment.id) }
        }
        if let superseded { finish(superseded.id, status: .superseded, note: "superseded by deployment \(superseded.by)") }
        schedule()
    }

    /// Cancels a waiting or running deployment. Returns false when it is neither.
    @discardableResult
    public func cancel(deploymentID: Int) -> Bool {
        let outcome = state.withLock { s -> (waiting: Bool, running: Bool) in
            if let appID = s.waiting.first(where: { $0.value == deploymentID })?.key {
                s.waiting[appID] = nil
                s.order.removeAll { $0 == appID }
                return (true, false)
            }
            if let entry = s.running.values.first(where: { $0.deploymentID == deploymentID }) {
                entry.cancellation.cancel()
                return (false, true)
            }
            return (false, false)
        }
        if outcome.waiting { finish(deploymentID, status: .cancelled, note: "cancelled before it started") }
        return outcome.waiting || outcome.running
    }

    /// Cancels everything of one app (before it is deleted) and waits for its worker to stop.
    public func cancelAll(appID: Int, waitSeconds: Double = 30) {
        let waiting = state.withLock { s -> Int? in
            let id = s.waiting.removeValue(forKey: appID)
            s.order.removeAll { $0 == appID }
            s.running[appID]?.cancellation.cancel()
            return id
        }
        if let waiting { finish(waiting, status: .cancelled, note: "cancelled: the app is being deleted") }
        let deadline = Date().addingTimeInterval(waitSeconds)
        while isRunning(appID: appID) && Date() < deadline { usleep(50_000) }
    }

    /// Deployments running, and waiting for a build slot or their app's turn.
    public var counts: (running: Int, waiting: Int) {
        state.withLock { s in (s.running.count, s.waiting.count) }
    }

    public func isRunning(appID: Int) -> Bool { state.withLock { $0.running[appID] != nil } }

    public func isBusy(appID: Int) -> Bool { state.withLock { $0.running[appID] != nil || $0.waiting[appID] != nil } }

    /// Whether this queue has `deploymentID`, waiting or running.
    public func has(deploymentID: Int) -> Bool {
        state.withLock { s in
            s.waiting.values.contains(deploymentID) || s.running.values.contains { $0.deploymentID == deploymentID }
        }
    }

    /// Waits up to `seconds` for the running deployments to finish (with the queue paused, none
    /// starts meanwhile); returns how many still run.
    public func waitUntilIdle(seconds: Double) -> Int {
        let deadline = monotonicMilliseconds() + Int(seconds * 1000)
        while true {
            let running = counts.running
            if running == 0 || monotonicMilliseconds() >= deadline { return running }
            usleep(50_000)
        }
    }

    /// Holds new work until `resume` (used while start-up recovery runs).
    public func pause() { state.withLock { $0.paused = true } }

    public func resume() {
        state.withLock { $0.paused = false }
        schedule()
    }

    private func schedule() {
        while true {
            let next = state.withLock { s -> (appID: Int, deploymentID: Int, cancellation: Cancellation)? in
                guard !s.paused, let index = s.order.firstIndex(where: { app in
                    s.running[app] == nil && s.busy[s.servers[app] ?? Server.localName, default: 0] < maxBuilds
                }) else { return nil }
                let appID = s.order.remove(at: index)
                guard let id = s.waiting.removeValue(forKey: appID) else { return nil }
                let cancellation = Cancellation()
                let server = s.servers.removeValue(forKey: appID) ?? Server.localName
                s.running[appID] = (id, cancellation, server)
                s.workers += 1
                s.busy[server, default: 0] += 1
                return (appID, id, cancellation)
            }
            guard let next else { return }
            // Deployments block on git and docker for minutes, so each gets a thread of its own,
            // away from the Swift concurrency pool.
            OSThread.detach(name: "deploy-\(next.deploymentID)") { [self] in
                deployer.execute(deploymentID: next.deploymentID, cancellation: next.cancellation)
                state.withLock { s in
                    if let server = s.running.removeValue(forKey: next.appID)?.server { s.busy[server, default: 1] -= 1 }
                    s.workers -= 1
                }
                schedule()
            }
        }
    }

    private func finish(_ deploymentID: Int, status: DeploymentStatus, note: String) {
        guard var d = try? store.deployment(id: deploymentID), d.status.canMove(to: status) else { return }
        d.status = status
        d.finishedAt = Timestamp.now()
        d.error = status == .cancelled ? "cancelled" : nil
        let log = DeploymentLog(path: settings.logPath(deploymentID: deploymentID))
        log.line(note)
        log.close()
        d.logPath = log.path
        Log.attempt("deployment \(deploymentID): recording that it \(status.rawValue)") { try store.save(d) }
    }
}
