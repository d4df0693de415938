import Synchronization
@testable import HookServer
@testable import Pipeline

/// The webhook route's backend in memory: apps by name, and everything the route asked for.
final class FakeWebhookBackend: WebhookBackend {
    struct Push: Equatable {
        var sha: String
        var deliveryID: String?
        var message: String?
        var author: String?
    }

    struct Refusal: Equatable {
        var deliveryID: String?
        var event: String?
        var result: DeliveryResult
        var deploymentID: Int?
    }

    struct State {
        var apps: [String: App] = [:]
        var recorded: [DeliveryRecorder.Entry] = []
        var refusals: [Refusal] = []
        var pushes: [Push] = []
        /// Delivery ids that passed the signature check, and the deployment each started.
        var seen: [String: Int?] = [:]
        var nextDeploymentID = 1
    }

    let state = Mutex(State())

    static let secret = "test-webhook-secret"

    init(apps: [String] = ["web"]) {
        state.withLock { s in
            for (index, name) in apps.enumerated() {
                s.apps[name] = App(id: index + 1, name: name, repoURL: "https://example.com/\(name).git", branch: "main", port: 8001 + index,
                                   internalPort: 5000, healthPath: "/", memoryMB: nil, cpus: nil, webhookSecret: Self.secret,
                                   status: .running, liveDeploymentID: nil, createdAt: "2026-12-01T00:00:00.000Z")
            }
        }
    }

    func app(named name: String) throws -> App? { state.withLock { $0.apps[name] } }

    func record(_ entry: DeliveryRecorder.Entry, completion: @escaping DeliveryRecorder.Completion) {
        let isNew = state.withLock { s -> Bool in
            s.recorded.append(entry)
            guard entry.result.kind != .rejected, let id = entry.deliveryID else { return true }
            if s.seen[id] != nil { return false }
            s.seen[id] = .some(nil)
            return true
        }
        completion(.success(isNew))
    }

    func recordDuplicate(appID: Int, deliveryID: String, event: String, deploymentID: Int?) throws {
        state.withLock { $0.refusals.append(Refusal(deliveryID: deliveryID, event: event, result: .duplicate, deploymentID: deploymentID)) }
    }

    func deployPush(_ app: App, sha: String, deliveryID: String?, commitMessage: String?, commitAuthor: String?) throws -> Deployment? {
        state.withLock { s -> Deployment? in
            if let deliveryID, s.seen[deliveryID] != nil { return nil }
            let id = s.nextDeploymentID
            s.nextDeploymentID += 1
            if let deliveryID { s.seen[deliveryID] = id }
            s.pushes.append(Push(sha: sha, deliveryID: deliveryID, message: commitMessage, author: commitAuthor))
            return Deployment(id: id, appID: app.id, appName: app.name, status: .queued, trigger: .webhook, ref: sha, commitSHA: nil,
                              commitMessage: commitMessage, commitAuthor: commitAuthor, image: nil, containerID: nil,
                              sourceDeploymentID: nil, deliveryID: deliveryID, error: nil, createdAt: "2026-12-01T00:00:00.000Z",
                              startedAt: nil, finishedAt: nil, steps: [], logPath: nil)
        }
    }

    func deploymentID(ofDelivery deliveryID: String) throws -> Int? {
        state.withLock { $0.seen[deliveryID] ?? nil }
    }
}
