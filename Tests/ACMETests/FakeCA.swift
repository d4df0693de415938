import FoundationEssentials
import SlipwayHTTP
import SlipwaySystem
import SlipwayTLS
import Synchronization
@testable import ACME

/// An ACME CA of the tests' making, answering the client's requests in memory the way RFC 8555
/// says (and Pebble does): nonces used once, `badNonce` with a fresh nonce, `jwk` for newAccount
/// and `kid` after it, Location headers, and a certificate for the CSR's names. It records what
/// it was sent, so the tests can check the client's side of the protocol.
final class FakeCA: ACMETransport, @unchecked Sendable {
    struct Seen {
        var method: String
        var path: String
        var contentType: String?
        var protected: JSON?
        var payload: String?
    }

    private struct State {
        var issued = Set<String>()
        var nextNonce = 1
        var seen: [Seen] = []
        var challengeAnswered = false
        var csrNames: [String] = []
        /// Nonces refused on purpose before any is accepted again (Pebble refuses 5 % of them).
        var refuseNonces = 0
        /// Whether the account exists (a restarted CA forgets it).
        var accountKnown = false
        /// An answer to give newOrder instead of the order.
        var orderProblem: (status: Int, type: String, detail: String, retryAfter: String?)?
    }

    private let state = Mutex(State())
    let base = "https://ca.test"
    let token = "tok-1"

    func refuseNonces(_ count: Int) { state.withLock { $0.refuseNonces = count } }
    func forgetAccounts() { state.withLock { $0.accountKnown = false } }
    func failOrders(status: Int, type: String, detail: String, retryAfter: String?) {
        state.withLock { $0.orderProblem = (status, type, detail, retryAfter) }
    }
    var seen: [Seen] { state.withLock { $0.seen } }
    var csrNames: [String] { state.withLock { $0.csrNames } }

    func send(_ method: String, _ url: String, headers: [(String, String)], body: [UInt8]) throws -> HTTPSClient.Response {
        let path = String(url.dropFirst(base.count))
        var seen = Seen(method: method, path: path, contentType: headers.first { $0.0 == "Content-Type" }?.1)
        if method == "GET" && path == "/dir" {
            record(seen)
            // The directory is a GET: no nonce comes with it (RFC 8555 section 7.2 asks one of
            // the answers to newNonce and to POSTs).
            let directory = #"{"newNonce":"\#(base)/nonce","newAccount":"\#(base)/acct","newOrder":"\#(base)/order","meta":{}}"#
            return HTTPSClient.Response(status: 200, headers: HTTPHeaders([("Content-Type", "application/json")]), body: Array(directory.utf8))
        }
        if method == "HEAD" && path == "/nonce" {
            record(seen)
            return answer(200, [], "")
        }
        guard method == "POST", let jws = try? JSONParser.parse(body), let protected = jws["protected"]?.stringValue.flatMap(Base64URL.decode),
              let header = try? JSONParser.parse(protected), let payload = jws["payload"]?.stringValue.flatMap(Base64URL.decode) else {
            return problem(400, "malformed", "not a JWS")
        }
        seen.protected = header
        seen.payload = String(decoding: payload, as: UTF8.self)
        record(seen)
        let nonce = header["nonce"]?.stringValue ?? ""
        let refused: Bool = state.withLock { s in
            guard s.issued.remove(nonce) != nil else { return true }
            if s.refuseNonces > 0 {
                s.refuseNonces -= 1
                return true
            }
            return false
        }
        if refused { return problem(400, "badNonce", "JWS has an invalid anti-replay nonce") }
        guard header["url"]?.stringValue == url else { return problem(401, "unauthorized", "the url does not match") }

        switch path {
        case "/acct":
            guard header["jwk"] != nil, header["kid"] == nil else { return problem(400, "malformed", "newAccount needs jwk") }
            state.withLock { $0.accountKnown = true }
            return json(201, #"{"status":"valid"}"#, [("Location", "\(base)/acct/1")])
        default:
            guard header["kid"]?.stringValue == "\(base)/acct/1", header["jwk"] == nil, state.withLock({ $0.accountKnown }) else {
                return problem(401, "accountDoesNotExist", "no such account")
            }
        }
        switch path {
        case "/order":
            if let p = state.withLock({ $0.orderProblem }) {
                return problem(p.status, p.type, p.detail, p.retryAfter.map { [("Retry-After", $0)] } ?? [])
            }
            return json(201, orderJSON(status: "pending"), [("Location", "\(base)/order/1")])
        case "/order/1":
            return json(200, orderJSON(status: state.withLock { $0.csrNames.isEmpty } ? "ready" : "valid"))
        case "/authz/1":
            let status = state.withLock { $0.challengeAnswered } ? "valid" : "pending"
            return json(200, #"{"identifier":{"type":"dns","value":"a.test"},"status":"\#(status)","challenges":[{"type":"http-01","url":"\#(base)/chall/1","token":"\#(token)","status":"\#(status)"},{"type":"tls-alpn-01","url":"\#(base)/chall/2","token":"tok-2","status":"pending"}]}"#)
        case "/chall/1":
            guard seen.payload == "{}" else { return problem(400, "malformed", "a challenge answer is {}") }
            state.withLock { $0.challengeAnswered = true }
            return json(200, #"{"type":"http-01","status":"processing"}"#)
        case "/finalize/1":
            guard let csr = (try? JSONParser.parse(payload))?["csr"]?.stringValue.flatMap(Base64URL.decode), !csr.isEmpty else {
                return problem(400, "badCSR", "no CSR")
            }
            state.withLock { $0.csrNames = ["a.test"] }
            return json(200, orderJSON(status: "valid"))
        case "/cert/1":
            guard seen.payload == "" else { return problem(400, "malformed", "POST-as-GET has an empty payload") }
            let key = try PrivateKey.generateP256()
            let chain = try SelfSignedCertificate.make(names: ["a.test"], key: key, validSeconds: 3600).pem()
            return answer(200, [("Content-Type", "application/pem-certificate-chain")], String(decoding: chain, as: UTF8.self))
        default:
            return problem(404, "malformed", "no such resource")
        }
    }

    private func orderJSON(status: String) -> String {
        let certificate = status == "valid" ? #","certificate":"\#(base)/cert/1""# : ""
        return #"{"status":"\#(status)","identifiers":[{"type":"dns","value":"a.test"}],"authorizations":["\#(base)/authz/1"],"finalize":"\#(base)/finalize/1"\#(certificate)}"#
    }

    private func record(_ seen: Seen) { state.withLock { $0.seen.append(seen) } }

    private func json(_ status: Int, _ body: String, _ headers: [(String, String)] = []) -> HTTPSClient.Response {
        answer(status, [("Content-Type", "application/json")] + headers, body)
    }

    private func problem(_ status: Int, _ type: String, _ detail: String, _ headers: [(String, String)] = []) -> HTTPSClient.Response {
        answer(status, [("Content-Type", "application/problem+json")] + headers,
               #"{"type":"urn:ietf:params:acme:error:\#(type)","detail":"\#(detail)","status":\#(status)}"#)
    }

    /// Every answer carries a fresh nonce, as RFC 8555 section 7.2 has it.
    private func answer(_ status: Int, _ headers: [(String, String)], _ body: String) -> HTTPSClient.Response {
        let nonce = state.withLock { s -> String in
            let nonce = "nonce-\(s.nextNonce)"
            s.nextNonce += 1
            s.issued.insert(nonce)
            return nonce
        }
        return HTTPSClient.Response(status: status, headers: HTTPHeaders(headers + [("Replay-Nonce", nonce)]), body: Array(body.utf8))
    }
}
