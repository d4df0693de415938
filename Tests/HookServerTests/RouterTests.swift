import SlipwayHTTP
import SlipwaySystem
import XCTest
@testable import HookServer

final class RouterTests: XCTestCase {
    private func router() -> Router {
        var r = Router()
        r.get("/healthz") { _ in .text("ok") }
        r.get("/api/apps/{name}") { req in .text(req.parameter("name")) }
        r.patch("/api/apps/{name}") { _ in .text("patched") }
        r.post("/hooks/github/{app}", bodyLimit: 25 << 20) { _ in .text("hook") }
        return r
    }

    func testMatchesParameters() {
        guard case .matched(let route, let params) = router().resolve(method: "GET", path: "/api/apps/my-app") else {
            return XCTFail("no match")
        }
        XCTAssertEqual(route.method, "GET")
        XCTAssertEqual(params, ["name": "my-app"])
    }

    func testDecodesPercentEscapesInSegments() {
        guard case .matched(_, let params) = router().resolve(method: "GET", path: "/api/apps/my%2Dapp") else { return XCTFail() }
        XCTAssertEqual(params["name"], "my-app")
        guard case .badPath = router().resolve(method: "GET", path: "/api/apps/%zz") else { return XCTFail() }
    }

    func testHeadUsesGetRoutes() {
        guard case .matched = router().resolve(method: "HEAD", path: "/healthz") else { return XCTFail() }
    }

    func testMethodNotAllowedListsAllowedMethods() {
        guard case .methodNotAllowed(let allow) = router().resolve(method: "DELETE", path: "/api/apps/x") else { return XCTFail() }
        XCTAssertEqual(allow, ["GET", "HEAD", "PATCH"])
    }

    func testNotFound() {
        guard case .notFound = router().resolve(method: "GET", path: "/api/nothing") else { return XCTFail() }
        guard case .notFound = router().resolve(method: "GET", path: "/api/apps/") else { return XCTFail() }
    }

    func testRouteBodyLimit() {
        guard case .matched(let route, _) = router().resolve(method: "POST", path: "/hooks/github/x") else { return XCTFail() }
        XCTAssertEqual(route.bodyLimit, 25 << 20)
    }

    func testResponderTurnsErrorsIntoJSONUnderAPI() {
        var r = Router()
        r.answerErrorsAsJSON(under: "/api")
        r.get("/api/boom") { _ in throw HTTPError.conflict("taken") }
        r.get("/boom") { _ in throw HTTPError.conflict("taken") }
        let responder = Responder(router: r, defaultBodyLimit: 1024)
        func run(_ path: String) -> HTTPResponse {
            let head = RequestHead(method: "GET", target: path, path: path, query: nil, versionMinor: 1, headers: HTTPHeaders([("Host", "x")]))
            return responder.respond(to: HTTPRequest(head: head, body: [], remoteAddress: "127.0.0.1"),
                                     resolution: r.resolve(method: "GET", path: path))
        }
        let api = run("/api/boom")
        XCTAssertEqual(api.status, 409)
        guard case .bytes(let body) = api.body else { return XCTFail() }
        XCTAssertEqual(String(decoding: body, as: UTF8.self), #"{"error":{"code":"conflict","message":"taken"}}"# + "\n")
        let page = run("/boom")
        XCTAssertEqual(page.headers["Content-Type"], "text/plain; charset=utf-8")
    }

    func testErrorFormatIsChosenByTheRouteFamilyPrefix() {
        var r = Router()
        r.answerErrorsAsJSON(under: "/api")
        r.answerErrorsAsJSON(under: "/hooks")
        let cases: [(String, ErrorFormat)] = [
            ("/api", .json), ("/api/", .json), ("/api/apps/x", .json), ("/hooks/github/x", .json), ("/hooks", .json),
            ("/apis", .text), ("/", .text), ("", .text), ("/apps/x", .text), ("/hooksy/x", .text), ("/login", .text),
        ]
        for (path, format) in cases { XCTAssertEqual(r.errorFormat(for: path), format, path) }
    }
}
