import Dispatch
import SlipwayHTTP
import SlipwaySystem
import XCTest
@testable import HookServer

/// Drives a Router through the Responder with a request in and a response out, as Hummingbird's
/// test mode does: no socket, so a route's every decision is a fast table test. Deferred
/// responses are waited for as a connection would (the end-to-end suite covers the sockets).
struct RouteClient {
    let responder: Responder

    init(_ configure: (inout Router) -> Void) {
        var router = Router()
        configure(&router)
        responder = Responder(router: router, defaultBodyLimit: HTTPLimits().defaultBodyLimit)
    }

    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]

        var text: String { String(decoding: body, as: UTF8.self) }
        var json: JSON? { try? JSONParser.parse(body) }
        /// The `code` of a JSON error body.
        var errorCode: String? { json?["error"]?["code"]?.stringValue }
        var errorMessage: String? { json?["error"]?["message"]?.stringValue }
    }

    func send(_ method: String, _ target: String, headers: [(String, String)] = [], body: [UInt8] = [],
              remoteAddress: String = "192.0.2.1", file: StaticString = #filePath, line: UInt = #line) -> Reply {
        var path = target, query: String?
        if let q = target.firstIndex(of: "?") {
            query = String(target[target.index(after: q)...])
            path = String(target[..<q])
        }
        let head = RequestHead(method: method, target: target, path: path, query: query, versionMinor: 1,
                               headers: HTTPHeaders((headers.contains { $0.0.lowercased() == "host" } ? [] : [("Host", "localhost")]) + headers))
        let resolution = responder.router.resolve(method: method, path: path)
        XCTAssertLessThanOrEqual(body.count, responder.bodyLimit(for: resolution), "the connection would answer 413", file: file, line: line)
        // As the connection does: a route's head check runs before the body is read.
        var context: (any Sendable)?
        switch responder.checkHead(of: HTTPRequest(head: head, body: [], remoteAddress: remoteAddress), resolution: resolution) {
        case .refuse(let refusal):
            guard case .bytes(let bytes) = refusal.body else { return Reply(status: refusal.status, headers: refusal.headers, body: []) }
            return Reply(status: refusal.status, headers: refusal.headers, body: bytes)
        case .proceed(let learned):
            context = learned
        }
        var request = HTTPRequest(head: head, body: body, remoteAddress: remoteAddress)
        request.context = context
        var response = responder.respond(to: request, resolution: resolution)
        if case .deferred(let deferred) = response.body {
            let ready = DispatchSemaphore(value: 0)
            deferred.whenReady { ready.signal() }
            guard ready.wait(timeout: .now() + 10) == .success, let make = deferred.take() else {
                XCTFail("the deferred response never became ready", file: file, line: line)
                return Reply(status: 0, headers: HTTPHeaders(), body: [])
            }
            response = responder.respond(to: request, deferred: make)
        }
        guard case .bytes(let bytes) = response.body else {
            XCTFail("expected a response with its body in bytes", file: file, line: line)
            return Reply(status: response.status, headers: response.headers, body: [])
        }
        return Reply(status: response.status, headers: response.headers, body: bytes)
    }

    func sendJSON(_ method: String, _ target: String, _ json: String, headers: [(String, String)] = [],
                  file: StaticString = #filePath, line: UInt = #line) -> Reply {
        send(method, target, headers: [("Content-Type", "application/json")] + headers, body: Array(json.utf8), file: file, line: line)
    }
}
