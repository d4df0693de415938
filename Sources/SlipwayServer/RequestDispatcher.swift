import SlipwayHTTP

/// The one seam between the server and what it serves: the connection parses and checks a head,
/// then asks the dispatcher what to do with the request before a byte of its body is read.
///
/// The dashboard's responder buffers bodies and answers with a handler (`.buffer`); the HTTP
/// edge streams them to an app and streams the app's answer back (`.takeOver`). Both get the
/// same accept loop, parked idle clients, workers, head parser, limits and timeouts.
public protocol RequestDispatcher: Sendable {
    /// What to do with the request whose head this is (its body, if any, still unread).
    func dispose(of head: RequestHead, remoteAddress: String) -> Disposition

    /// The answer to an error the connection finds itself (a malformed head, a timeout, a body
    /// too large), for `path` ("" when no request target was read).
    func errorResponse(_ error: any HTTPResponseError, path: String) -> HTTPResponse

    /// Makes a response a handler deferred, once it is ready, with the handler's error handling.
    func respond(to request: HTTPRequest, deferred make: DeferredResponse.Maker) -> HTTPResponse
}

/// A dispatcher's decision on one request.
public enum Disposition {
    /// Read the whole body, at most `bodyLimit` bytes (413 past it, from Content-Length before
    /// anything is read), then answer with `handler`, which may defer its answer.
    case buffer(bodyLimit: Int, handler: (HTTPRequest) -> HTTPResponse)
    /// Answer this at once: the body is never read, so the connection closes after it.
    case refuse(HTTPResponse)
    /// Hand the exchange over: `handler` reads the body and writes the answer itself, through
    /// the `Exchange`, on the worker that serves the connection, and says how it ended.
    case takeOver((Exchange) -> Exchange.Outcome)
}
