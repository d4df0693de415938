import Pipeline
import SlipwayCrypto
import SlipwayHTTP
import SlipwaySystem

/// POST /hooks/github/{app}: GitHub push deliveries redeploy the app.
///
/// The order is deliberate: the signature is checked over the raw bytes before anything is
/// parsed, and the answer goes out as soon as a deployment is queued, with no git or docker work
/// first (GitHub gives up after 10 s).
struct WebhookHandler: Sendable {
    let service: AppService
    /// GitHub caps deliveries at 25 MiB.
    static let bodyLimit = 25 * 1024 * 1024
    /// The members of a delivery that `push` reads; the rest is validated but not built.
    static let payloadKeys: Set<String> = ["ref", "after", "deleted", "head_commit"]

    private struct Rejection: HTTPResponseError {
        let status: Int
        let code: String
        let message: String
    }

    func handle(_ request: HTTPRequest) throws -> HTTPResponse {
        let name = request.parameter("app")
        guard let app = try service.store.app(named: name) else { throw HTTPError.notFound("no app named \(name)") }
        let event = request.headers["X-GitHub-Event"]
        let deliveryID = request.headers["X-GitHub-Delivery"]

        guard WebhookSignature.isValid(header: request.headers["X-Hub-Signature-256"], body: request.body, secret: app.webhookSecret) else {
            // Never say what was expected; only that it did not match.
            let missing = request.headers["X-Hub-Signature-256"] == nil
            try? service.store.recordDelivery(appID: app.id, deliveryID: deliveryID, event: event,
                                              result: missing ? "rejected: missing signature" : "rejected: invalid signature")
            throw Rejection(status: 401, code: "invalid_signature",
                            message: missing ? "missing X-Hub-Signature-256 header" : "the X-Hub-Signature-256 signature does not match")
        }

        let payloadBytes: [UInt8]
        let contentType = (request.headers["Content-Type"] ?? "").lowercased()
        if contentType.hasPrefix("application/json") {
            payloadBytes = request.body
        } else if contentType.hasPrefix("application/x-www-form-urlencoded") {
            guard let payload = FormDecoding.decode(String(decoding: request.body, as: UTF8.self))["payload"] else {
                return reject(app, deliveryID, event, 400, "bad_payload", "the form has no payload field")
            }
            payloadBytes = Array(payload.utf8)
        } else {
            return reject(app, deliveryID, event, 415, "unsupported_media_type", "content type must be application/json or application/x-www-form-urlencoded")
        }

        guard let event, !event.isEmpty else {
            return reject(app, deliveryID, event, 400, "bad_request", "missing X-GitHub-Event header")
        }

        let payload: JSON
        do {
            payload = try JSONParser.parse(payloadBytes, keeping: Self.payloadKeys)
        } catch {
            return reject(app, deliveryID, event, 400, "bad_payload", "the payload is not valid JSON")
        }

        let outcome: Outcome
        switch event {
        case "ping":
            outcome = Outcome(result: "ping", response: .json(.object([("ok", .bool(true)), ("event", .string("ping"))])))
        case "push":
            outcome = push(app, payload: payload)
        default:
            let reason = "event \(event) is not handled; only push deploys"
            outcome = Outcome(result: "ignored: \(reason)", response: .json(.object([("ignored", .string(reason))])))
        }

        // One write per delivery. A delivery id seen before is a redelivery: answered, acted on once.
        if let push = outcome.deploy {
            if let deployment = try service.deployPush(app, sha: push.sha, deliveryID: deliveryID,
                                                       commitMessage: push.message, commitAuthor: push.author) {
                return .json(.object([("deployment_id", .from(deployment.id))]), status: 202)
            }
            return try duplicate(app, deliveryID: deliveryID ?? "", event: event)
        }
        // Recorded in a batch with the deliveries arriving meanwhile (group commit); answered
        // once its batch is stored.
        let deferred = DeferredResponse()
        let response = outcome.response
        let entry = DeliveryRecorder.Entry(appID: app.id, deliveryID: deliveryID, event: event, result: outcome.result)
        service.store.deliveries.record(entry) { recorded in
            deferred.fulfil {
                if try recorded.get() { return response }
                return try duplicate(app, deliveryID: deliveryID ?? "", event: event)
            }
        }
        return .deferred(deferred)
    }

    private func duplicate(_ app: App, deliveryID: String, event: String) throws -> HTTPResponse {
        let earlier = try service.store.deliveryDeployment(deliveryID: deliveryID)
        try? service.store.recordDelivery(appID: app.id, deliveryID: deliveryID, event: event, result: "duplicate", deploymentID: earlier)
        return .json(.object([("duplicate", .bool(true)), ("delivery_id", .string(deliveryID)), ("deployment_id", .from(earlier))]))
    }

    private struct Outcome {
        var result: String
        var response: HTTPResponse
        var deploy: (sha: String, message: String?, author: String?)? = nil
    }

    /// Decides what a push means, touching nothing.
    private func push(_ app: App, payload: JSON) -> Outcome {
        guard let ref = payload["ref"]?.stringValue, let after = payload["after"]?.stringValue else {
            return Outcome(result: "rejected: no ref or after", response: .error(Rejection(status: 400, code: "bad_payload", message: "the push payload has no ref or after"), format: .json))
        }
        let branchRef = "refs/heads/\(app.branch)"
        var ignored: String?
        if ref.hasPrefix("refs/tags/") {
            ignored = "tag push (\(ref.dropFirst(10))) does not deploy"
        } else if ref != branchRef {
            ignored = "push to \(ref) does not deploy; this app deploys \(branchRef)"
        } else if payload["deleted"]?.boolValue == true || after == String(repeating: "0", count: 40) {
            ignored = "branch \(app.branch) was deleted"
        } else if after.count != 40 || !after.allSatisfy(\.isHexDigit) {
            return Outcome(result: "rejected: after is not a sha", response: .error(Rejection(status: 400, code: "bad_payload", message: "after is not a commit sha"), format: .json))
        }
        if let ignored {
            return Outcome(result: "ignored: \(ignored)", response: .json(.object([("ignored", .string(ignored))])))
        }
        let head = payload["head_commit"]
        let authorObject = head?["author"]
        let author = authorObject?["name"]?.stringValue.map { name in
            authorObject?["email"]?.stringValue.map { "\(name) <\($0)>" } ?? name
        }
        let message = head?["message"]?.stringValue.map { String($0.split(separator: "\n", omittingEmptySubsequences: false).first ?? "") }
        return Outcome(result: "accepted", response: .noContent, deploy: (after.lowercased(), message, author))
    }

    private func reject(_ app: App, _ deliveryID: String?, _ event: String?, _ status: Int, _ code: String, _ message: String) -> HTTPResponse {
        try? service.store.recordDelivery(appID: app.id, deliveryID: deliveryID, event: event, result: "rejected: \(message)")
        return .error(Rejection(status: status, code: code, message: message), format: .json)
    }
}

extension Router {
    mutating func addWebhookRoutes(_ handler: WebhookHandler) {
        answerErrorsAsJSON(under: "/hooks")
        post("/hooks/github/{app}", bodyLimit: WebhookHandler.bodyLimit) { request in try handler.handle(request) }
    }
}
