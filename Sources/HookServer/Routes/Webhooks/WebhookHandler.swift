import Pipeline
import SlipwayCrypto
import SlipwayHTTP
import SlipwaySystem

/// POST /hooks/github/{app}: GitHub push deliveries redeploy the app.
///
/// The order is deliberate. Before a byte of the body is read (`checkHead`), the app must
/// exist and the headers every GitHub delivery carries must be there. Then the signature is
/// checked over the raw bytes before anything is parsed, and the answer goes out as soon as a
/// deployment is queued, with no git or docker work first (GitHub gives up after 10 s).
/// Refusals that anyone could cause are counted in memory (`RejectedDeliveries`); only signed
/// deliveries are written, in batches.
struct WebhookHandler: Sendable {
    let backend: any WebhookBackend
    let rejected: RejectedDeliveries
    /// Holds back the answers to clients past their budget.
    let tarpit: Tarpit?
    /// GitHub caps deliveries at 25 MiB (`--webhook-body-limit`).
    let bodyLimit: Int
    static let defaultBodyLimit = 25 * 1024 * 1024
    /// GitHub's delivery ids are UUIDs; anything much longer is not one.
    static let maximumDeliveryIDBytes = 128

    /// A refusal in the webhook's own words: the code is part of the API (docs/API.md).
    struct Rejection: HTTPResponseError {
        let status: Int
        let code: String
        let message: String
        var extraHeaders: [(String, String)] = []
    }

    init(backend: any WebhookBackend, rejected: RejectedDeliveries = RejectedDeliveries(), tarpit: Tarpit? = nil,
         bodyLimit: Int = Self.defaultBodyLimit) {
        self.backend = backend
        self.rejected = rejected
        self.tarpit = tarpit
        self.bodyLimit = bodyLimit
    }

    /// Runs on the head alone: a delivery that cannot be served is refused before its body is
    /// read. Returns the app, which the handler then needs not look up again.
    func checkHead(_ request: HTTPRequest) throws -> (any Sendable)? {
        let app = try self.app(request)
        let headers = request.headers
        guard headers["X-Hub-Signature-256"] != nil else {
            try refuse(app, request, reason: "missing signature",
                       Rejection(status: 401, code: "invalid_signature", message: "missing X-Hub-Signature-256 header"))
        }
        guard Self.payloadFormat(headers["Content-Type"]) != nil else {
            try refuse(app, request, reason: "unsupported content type",
                       Rejection(status: 415, code: "unsupported_media_type",
                                 message: "content type must be application/json or application/x-www-form-urlencoded"))
        }
        guard let event = headers["X-GitHub-Event"], !event.isEmpty else {
            try refuse(app, request, reason: "no event header", Rejection(status: 400, code: "bad_request", message: "missing X-GitHub-Event header"))
        }
        // Without an id, a captured delivery could be replayed as new as often as anyone liked.
        guard let deliveryID = headers["X-GitHub-Delivery"], !deliveryID.isEmpty else {
            try refuse(app, request, reason: "no delivery id", Rejection(status: 400, code: "bad_request", message: "missing X-GitHub-Delivery header"))
        }
        guard deliveryID.utf8.count <= Self.maximumDeliveryIDBytes else {
            try refuse(app, request, reason: "delivery id too long",
                       Rejection(status: 400, code: "bad_request",
                                 message: "X-GitHub-Delivery is longer than \(Self.maximumDeliveryIDBytes) bytes"))
        }
        return app
    }

    /// The delivery, once `checkHead` has passed (the router runs it before the body is read, and
    /// hands over the app it found as the request's context).
    func handle(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try (request.context as? App) ?? self.app(request)
        let event = request.headers["X-GitHub-Event"] ?? ""
        let deliveryID = request.headers["X-GitHub-Delivery"] ?? ""

        guard WebhookSignature.isValid(header: request.headers["X-Hub-Signature-256"], body: request.body, secret: app.webhookSecret) else {
            // Never say what was expected; only that it did not match.
            let mismatch = Rejection(status: 401, code: "invalid_signature", message: "the X-Hub-Signature-256 signature does not match")
            switch record(app, request, reason: "invalid signature") {
            case .refused:
                throw mismatch
            case .throttled(let seconds):
                // Held back: a client past its budget gets its next answer no sooner than this.
                let answer = Self.throttled(seconds)
                guard let tarpit else { throw answer }
                return tarpit.hold { throw answer }
            }
        }

        // Signed from here on: only GitHub (or whoever holds the secret) can send what follows.
        let decision: DeliveryDecision
        switch payload(request) {
        case .failure(let problem):
            decision = .reject(problem.message)
        case .success(let bytes):
            do {
                let payload = try JSONParser.parse(bytes, keeping: DeliveryDecision.payloadKeys)
                decision = DeliveryDecision.decide(event: event, payload: payload, branch: app.branch)
            } catch {
                decision = .reject("the payload is not valid JSON")
            }
        }

        let result: DeliveryResult
        let response: HTTPResponse
        switch decision {
        case .deploy(let sha, let message, let author):
            // One write per delivery. A delivery id seen before is a redelivery: answered, acted on once.
            if let deployment = try backend.deployPush(app, sha: sha, deliveryID: deliveryID, commitMessage: message, commitAuthor: author) {
                return .json(.object([("deployment_id", .from(deployment.id))]), status: 202)
            }
            return try duplicate(app, deliveryID: deliveryID, event: event)
        case .reject(let message):
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
                return try duplicate(app, deliveryID: deliveryID, event: event)
            }
        }
        return .deferred(deferred)
    }

    private func app(_ request: HTTPRequest) throws -> App {
        let name = request.parameter("app")
        guard let app = try backend.app(named: name) else { throw HTTPError.notFound("no app named \(name)") }
        return app
    }

    /// Counts a refusal anyone could have caused, and answers it: 401/400/415 as `rejection`
    /// says, or 429 once the client has used up its budget.
    private func refuse(_ app: App, _ request: HTTPRequest, reason: String, _ rejection: Rejection) throws -> Never {
        if case .throttled(let seconds) = record(app, request, reason: reason) { throw Self.throttled(seconds) }
        throw rejection
    }

    private func record(_ app: App, _ request: HTTPRequest, reason: String) -> RejectedDeliveries.Verdict {
        rejected.record(appID: app.id, appName: app.name, address: request.remoteAddress, reason: reason,
                        deliveryID: request.headers["X-GitHub-Delivery"], event: request.headers["X-GitHub-Event"])
    }

    private static func throttled(_ seconds: Int) -> Rejection {
        Rejection(status: 429, code: "too_many_requests", message: "too many refused deliveries from this address; try again in \(seconds) s",
                  extraHeaders: [("Retry-After", String(seconds))])
    }

    private enum PayloadFormat { case json, form }

    private static func payloadFormat(_ contentType: String?) -> PayloadFormat? {
        let type = (contentType ?? "").lowercased()
        if type.hasPrefix("application/json") { return .json }
        if type.hasPrefix("application/x-www-form-urlencoded") { return .form }
        return nil
    }

    /// The JSON document of a delivery: the body, or the form's `payload` field.
    private func payload(_ request: HTTPRequest) -> Result<[UInt8], PayloadProblem> {
        switch Self.payloadFormat(request.headers["Content-Type"]) {
        case .json:
            return .success(request.body)
        case .form:
            guard let payload = FormDecoding.decode(String(decoding: request.body, as: UTF8.self))["payload"] else {
                return .failure(PayloadProblem("the form has no payload field"))
            }
            return .success(Array(payload.utf8))
        case nil:
            // checkHead refused it already.
            return .failure(PayloadProblem("content type must be application/json or application/x-www-form-urlencoded"))
        }
    }

    private struct PayloadProblem: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    private func duplicate(_ app: App, deliveryID: String, event: String) throws -> HTTPResponse {
        let earlier = try backend.deploymentID(ofDelivery: deliveryID)
        Log.attempt("app \(app.name): recording a duplicate delivery") {
            try backend.recordDuplicate(appID: app.id, deliveryID: deliveryID, event: event, deploymentID: earlier)
        }
        return .json(.object([("duplicate", .bool(true)), ("delivery_id", .string(deliveryID)), ("deployment_id", .from(earlier))]))
    }
}
