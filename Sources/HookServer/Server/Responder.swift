import Pipeline
import SlipwayHTTP
import SlipwayServer
import SlipwaySystem

/// Turns a request into a response: routing, then the handler, with every error converted in one place.
/// The server asks it about each request's head (`RequestDispatcher`) and it always buffers the body.
struct Responder: RequestDispatcher {
    let router: Router
    let defaultBodyLimit: Int

    func bodyLimit(for resolution: Router.Resolution) -> Int {
        if case .matched(let route, _) = resolution { return route.bodyLimit ?? defaultBodyLimit }
        return defaultBodyLimit
    }

    /// The shape of an error answer for `path`, as its route family chose it.
    func errorFormat(for path: String) -> ErrorFormat { router.errorFormat(for: path) }

    /// An error answer for `path` in its route family's format.
    func error(_ error: any HTTPResponseError, path: String) -> HTTPResponse {
        .error(error, format: errorFormat(for: path))
    }

    /// What a route's `headCheck` says of a request whose body is not read yet.
    enum HeadVerdict {
        /// Read the body; `context` goes to the handler with the request.
        case proceed(context: (any Sendable)?)
        /// Answer this and read nothing more.
        case refuse(HTTPResponse)
    }

    func dispose(of head: RequestHead, remoteAddress: String) -> Disposition {
        let resolution = router.resolve(method: head.method, path: head.path)
        switch checkHead(of: HTTPRequest(head: head, body: [], remoteAddress: remoteAddress), resolution: resolution) {
        case .refuse(let refusal):
            return .refuse(refusal)
        case .proceed(let learned):
            return .buffer(bodyLimit: bodyLimit(for: resolution)) { request in
                var request = request
                request.context = learned
                return respond(to: request, resolution: resolution)
            }
        }
    }

    func errorResponse(_ error: any HTTPResponseError, path: String) -> HTTPResponse {
        self.error(error, path: path)
    }

    func checkHead(of request: HTTPRequest, resolution: Router.Resolution) -> HeadVerdict {
        guard case .matched(let route, let parameters) = resolution, let check = route.headCheck else { return .proceed(context: nil) }
        var request = request
        request.parameters = parameters
        do {
            return .proceed(context: try check(request))
        } catch {
            return .refuse(response(to: error, for: request))
        }
    }

    func respond(to request: HTTPRequest, resolution: Router.Resolution) -> HTTPResponse {
        switch resolution {
        case .notFound:
            return error(HTTPError.notFound("not found"), path: request.path)
        case .badPath:
            return error(HTTPError.badRequest("malformed path"), path: request.path)
        case .methodNotAllowed(let allow):
            return error(HTTPError(405, "method not allowed", headers: [("Allow", allow.joined(separator: ", "))]), path: request.path)
        case .matched(let route, let parameters):
            var request = request
            request.parameters = parameters
            return catching(request) { try route.handler(request) }
        }
    }

    /// Makes a deferred response once it is ready, with the same error handling as a handler.
    func respond(to request: HTTPRequest, deferred make: DeferredResponse.Maker) -> HTTPResponse {
        let response = catching(request, make)
        if case .deferred = response.body {
            Log.error("\(request.method) \(request.path): a deferred response deferred again")
            return error(HTTPError(500, "internal server error"), path: request.path)
        }
        return response
    }

    private func catching(_ request: HTTPRequest, _ make: () throws -> HTTPResponse) -> HTTPResponse {
        do {
            return try make()
        } catch {
            return response(to: error, for: request)
        }
    }

    /// The one place a thrown error becomes an answer.
    private func response(to error: any Error, for request: HTTPRequest) -> HTTPResponse {
        switch error {
        case let failure as any HTTPResponseError:
            return self.error(failure, path: request.path)
        case let failure as SQLiteError where failure.isDiskFull:
            Log.error("\(request.method) \(request.path) failed: \(failure)")
            return self.error(HTTPError(507, "the data directory's disk is full", code: "disk_full"), path: request.path)
        default:
            // Unknown errors may carry internals (paths, SQL): log them, answer a bare 500.
            Log.error("\(request.method) \(request.path) failed: \(error)")
            return self.error(HTTPError(500, "internal server error"), path: request.path)
        }
    }
}
