import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// /api/apps/{name}/certificates: the certificates of an app's domains, which the HTTPS edge
/// serves. A user's own certificate is uploaded per domain (PUT, a PEM chain and its key) and
/// removed (DELETE); the key is stored 0600 and never returned.
struct CertificatesAPI: Sendable {
    let api: APIContext

    func list(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        return .json(.array(api.certificates.summaries(for: app.domains.map(\.value)).map(CertificateJSON.encode)))
    }

    func upload(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        let domain = try self.domain(of: app, request)
        var body = try JSONBody(request, allowEmpty: false)
        guard let chain = try body.string("certificate") else { throw ValidationError("certificate", "certificate is required: the PEM chain, leaf first") }
        guard let key = try body.string("private_key") else { throw ValidationError("private_key", "private_key is required: the certificate's PEM private key") }
        try body.rejectUnknown()
        let summary = try api.certificates.upload(domain: domain, chainPEM: Array(chain.utf8), keyPEM: Array(key.utf8))
        Log.info("certificate for \(domain) (app \(app.name)) uploaded: issuer \(summary.issuer), \(summary.status.rawValue)")
        return .json(CertificateJSON.encode(summary))
    }

    func remove(_ request: HTTPRequest) throws -> HTTPResponse {
        let app = try api.app(request)
        let domain = try self.domain(of: app, request)
        guard api.certificates.remove(domain: domain) else { throw HTTPError.notFound("\(domain) has no certificate") }
        return .noContent
    }

    /// The path's domain, which must be one of the app's.
    private func domain(of app: App, _ request: HTTPRequest) throws -> String {
        var name = request.parameter("domain").lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        guard app.domains.contains(where: { $0.value == name }) else {
            throw HTTPError.notFound("app \(app.name) has no domain \(name.prefix(253))")
        }
        return name
    }
}
