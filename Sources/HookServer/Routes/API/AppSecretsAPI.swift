import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// An app's webhook secret (rotated, shown once) and its SSH deploy key (the public half only).
struct AppSecretsAPI: Sendable {
    let api: APIContext

    func rotateWebhookSecret(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        try JSONBody(request).rejectUnknown()
        let secret = try api.service.rotateWebhookSecret(app)
        var response = HTTPResponse.json(.object([("webhook_secret", .string(secret)),
                                                  ("webhook_url", .string("\(api.config.effectivePublicURL)/hooks/github/\(app.name)"))]))
        response.headers.add("Cache-Control", "no-store")
        return response
    }

    func createDeployKey(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        try JSONBody(request).rejectUnknown()
        return .json(.object([("public_key", .string(try api.service.generateDeployKey(app)))]), status: 201)
    }

    func showDeployKey(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        guard let key = app.deployKeyPublic else { throw HTTPError.notFound("\(app.name) has no deploy key") }
        return .json(.object([("public_key", .string(key))]))
    }

    func deleteDeployKey(_ request: HTTPRequest) throws -> HTTPResponse {
        try api.service.removeDeployKey(try api.app(request))
        return .noContent
    }
}
