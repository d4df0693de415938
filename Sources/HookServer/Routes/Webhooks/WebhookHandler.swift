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
    let backend: any WebhookBackend
    /// GitHub caps deliveries at 25 MiB.
    static let bodyLimit = 25 * 1024 * 1024

    /// A refusal in the webhook's own words: the code is part of the API (docs/API.md).
    struct Rejection: HTTPResponseError {
        let status: Int
        let code: String
        let message: String
    }

    func handle(_ request: HTTPRequest) throws -> HTTPResponse {
        let name = request.parameter("app")
        guard let app = try backend.app(named: name) else { throw HTTPError.notFound("no app named \(name)") }
        let event = request.headers["X-GitHub-Event"]
        let deliveryID = request.headers["X-GitHub-Delivery"]
        let refuse = { (status: Int, code: String, message: String) throws -> Never in
            Log.attempt("app \(app.name): recording a refused delivery") {
                try backend.recordRefusal(appID: app.id, deliveryID: deliveryID, event: event, result: .rejected(message), deploymentID: nil)
            }
            throw Rejection(status: status, code: code, message: message)
        }

        let signature = request.headers["X-Hub-Signature-256"]
        guard WebhookSignature.isValid(header: signature, body: request.body, secret: app.webhookSecret) else {
            // Never say what was expected; only that it did not match.
            let missing = signature == nil
            Log.attempt("app \(app.name): recording a delivery with a bad signature") {
                try backend.recordRefusal(appID: app.id, deliveryID: deliveryID, event: event,
                                          result: .rejected(missing ? "missing signature" : "invalid signature"), deploymentID: nil)
            }
            throw Rejection(status: 401, code: "invalid_signature",
                            message: missing ? "missing X-Hub-Signature-256 header" : "the X-Hub-Signature-256 signature does not match")
        }

        let payloadBytes: [UInt8]
        let contentType = (request.headers["Content-Type"] ?? "").lowercased()
        if contentType.hasPrefix("application/json") {
            payloadBytes = request.body
        } else if contentType.hasPrefix("application/x-www-form-urlencoded") {
            guard let payload = FormDecoding.decode(String(decoding: request.body, as: UTF8.self))["payload"] else {
                try refuse(400, "bad_payload", "the form has no payload field")
            }
            payloadBytes = Array(payload.utf8)
        } else {
            try refuse(415, "unsupported_media_type", "content type must be application/json or application/x-www-form-urlencoded")
        }

        guard let event, !event.isEmpty else { try refuse(400, "bad_request", "missing X-GitHub-Event header") }

        let payload: JSON
        do {
            payload = try JSONParser.parse(payloadBytes, keeping: DeliveryDecision.payloadKeys)
        } catch {
            try refuse(400, "bad_payload", "the payload is not valid JSON")
        }

        let result: DeliveryResult
        let response: HTTPResponse
        switch DeliveryDecision.decide(event: event, payload: payload, branch: app.branch) {
        case .deploy(let sha, let message, let author):
            // One write per delivery. A delivery id seen before is a redelivery: answered, acted on once.
            if let deployment = try backend.deployPush(app, sha: sha, deliveryID: deliveryID, commitMessage: message, commitAuthor: author) {
                return .json(.object([("deployment_id", .from(deployment.id))]), status: 202)
            }
            return try duplicate(app, deliveryID: deliveryID ?? "", event: event)
        case .reject(let message):
            // Recorded like the other signed deliveries: the batch keeps the route's cost flat.
            result = .rejected(message)
            response = .error(Rejection(status: 400, code: "bad_payload", message: message), format: .json)
        case .ping:
            result = .ping
            response = .json(.object([("ok", .bool(true)), ("event", .string("ping"))]))
        case .ignore(let reason):
            result = .ignored(reason)
            response = .json(.object([("ignored", .string(reason))]))
        }
        // Recorded in a batch with the deliveries arriving meanwhile (group commit); answered
        // once its batch is stored.
        let deferred = DeferredResponse()
        let entry = DeliveryRecorder.Entry(appID: app.id, deliveryID: deliveryID, event: event, result: result)
        backend.record(entry) { recorded in
            deferred.fulfil {
                if try recorded.get() { return response }
                return try duplicate(app, deliveryID: deliveryID ?? "", event: event)
            }
        }
        return .deferred(deferred)
    }

    private func duplicate(_ app: App, deliveryID: String, event: String) throws -> HTTPResponse {
        let earlier = try backend.deploymentID(ofDelivery: deliveryID)
        Log.attempt("app \(app.name): recording a duplicate delivery") {
            try backend.recordRefusal(appID: app.id, deliveryID: deliveryID, event: event, result: .duplicate, deploymentID: earlier)
        }
        return .json(.object([("duplicate", .bool(true)), ("delivery_id", .string(deliveryID)), ("deployment_id", .from(earlier))]))
    }
}
