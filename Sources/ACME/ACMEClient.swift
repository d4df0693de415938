import FoundationEssentials
import SlipwayHTTP
import SlipwaySystem
import SlipwayTLS
import Synchronization

/// The client side of RFC 8555, what Slipway needs of it: the directory, nonces, an account, an
/// order for some names, their HTTP-01 challenges, the finalization with a CSR, and the
/// certificate chain. Every request after the directory is a JWS signed with the account key;
/// a `badNonce` refusal is retried with the fresh nonce the refusal carried (the CA may refuse
/// any nonce, and Pebble refuses 5 % on purpose). Blocking: run it on a thread of its own.
public final class ACMEClient: Sendable {
    public struct Directory: Sendable, Equatable {
        public let newNonce: String
        public let newAccount: String
        public let newOrder: String
    }

    public struct Order: Sendable, Equatable {
        public let url: String
        public let status: String
        public let authorizations: [String]
        public let finalize: String
        public let certificate: String?
    }

    public struct Challenge: Sendable, Equatable {
        public let type: String
        public let url: String
        public let token: String
        public let status: String
        /// Why the CA found it invalid, in its words.
        public let error: String?
    }

    public struct Authorization: Sendable, Equatable {
        public let identifier: String
        public let status: String
        public let challenges: [Challenge]
    }

    let transport: any ACMETransport
    let directoryURL: String
    let signer: JWSSigner
    private let state = Mutex<(directory: Directory?, nonces: [String], account: String?)>((nil, [], nil))
    /// Tries of one request refused for its nonce.
    static let nonceRetries = 5
    static let problemPrefix = "urn:ietf:params:acme:error:"

    public init(directoryURL: String, accountKey: PrivateKey, transport: any ACMETransport) throws(TLSError) {
        self.directoryURL = directoryURL
        self.signer = try JWSSigner(key: accountKey)
        self.transport = transport
    }

    /// The key authorization of an HTTP-01 token: what the CA expects at
    /// `/.well-known/acme-challenge/<token>`.
    public func keyAuthorization(token: String) throws -> String {
        token + "." + (try signer.thumbprint())
    }

    // MARK: the directory and nonces

    public func directory() throws -> Directory {
        if let known = state.withLock({ $0.directory }) { return known }
        let response = try request("GET", directoryURL, operation: "reading the ACME directory")
        let json = try Self.json(response, "reading the ACME directory")
        guard let newNonce = json["newNonce"]?.stringValue, let newAccount = json["newAccount"]?.stringValue,
              let newOrder = json["newOrder"]?.stringValue else {
            throw ACMEError("reading the ACME directory", detail: "the directory lacks newNonce, newAccount or newOrder")
        }
        let directory = Directory(newNonce: newNonce, newAccount: newAccount, newOrder: newOrder)
        state.withLock { $0.directory = directory }
        return directory
    }

    private func nonce() throws -> String {
        if let kept = state.withLock({ $0.nonces.popLast() }) { return kept }
        let response = try request("HEAD", try directory().newNonce, operation: "getting a nonce")
        guard let nonce = response.headers["Replay-Nonce"] else {
            throw ACMEError("getting a nonce", detail: "the CA's answer has no Replay-Nonce", status: response.status)
        }
        return nonce
    }

    // MARK: the account

    /// Registers the account key (or finds the account it already has: the CA answers 200 with
    /// its URL), agreeing to the CA's terms. Returns the account's URL.
    @discardableResult
    public func account(email: String?) throws -> String {
        if let known = state.withLock({ $0.account }) { return known }
        var payload: [(String, JSON)] = [("termsOfServiceAgreed", .bool(true))]
        if let email { payload.append(("contact", .array([.string("mailto:" + email)]))) }
        let response = try signedPost(try directory().newAccount, payload: JSON.object(payload).serialized(), useKID: false,
                                      operation: "registering the ACME account")
        guard let url = response.headers["Location"] else {
            throw ACMEError("registering the ACME account", detail: "the CA's answer names no account (no Location)", status: response.status)
        }
        state.withLock { $0.account = url }
        return url
    }

    // MARK: orders

    public func newOrder(names: [String]) throws -> Order {
        let identifiers = JSON.array(names.map { .object([("type", .string("dns")), ("value", .string($0))]) })
        let response = try signedPost(try directory().newOrder, payload: JSON.object([("identifiers", identifiers)]).serialized(),
                                      operation: "ordering a certificate for \(names.joined(separator: ", "))")
        guard let url = response.headers["Location"] else {
            throw ACMEError("ordering a certificate", detail: "the CA's answer names no order (no Location)", status: response.status)
        }
        return try Self.order(url: url, try Self.json(response, "ordering a certificate"))
    }

    public func order(_ url: String) throws -> Order {
        try Self.order(url: url, try Self.json(try signedPost(url, payload: "", operation: "reading the order"), "reading the order"))
    }

    public func authorization(_ url: String) throws -> Authorization {
        let json = try Self.json(try signedPost(url, payload: "", operation: "reading an authorization"), "reading an authorization")
        guard let identifier = json["identifier"]?["value"]?.stringValue, let status = json["status"]?.stringValue else {
            throw ACMEError("reading an authorization", detail: "the authorization lacks identifier or status")
        }
        let challenges = (json["challenges"]?.arrayValue ?? []).compactMap { c -> Challenge? in
            guard let type = c["type"]?.stringValue, let url = c["url"]?.stringValue else { return nil }
            return Challenge(type: type, url: url, token: c["token"]?.stringValue ?? "", status: c["status"]?.stringValue ?? "",
                             error: c["error"]?["detail"]?.stringValue.map { String($0.prefix(500)) })
        }
        return Authorization(identifier: identifier, status: status, challenges: challenges)
    }

    /// Tells the CA the challenge is ready to be checked.
    public func respond(to challenge: Challenge) throws {
        _ = try signedPost(challenge.url, payload: "{}", operation: "answering the \(challenge.type) challenge")
    }

    /// Finalizes the order with a CSR for its names, signed by the certificate's key.
    public func finalize(_ order: Order, csr: [UInt8]) throws -> Order {
        let payload = JSON.object([("csr", .string(Base64URL.encode(csr)))]).serialized()
        return try Self.order(url: order.url, try Self.json(try signedPost(order.finalize, payload: payload, operation: "finalizing the order"),
                                                           "finalizing the order"))
    }

    /// The issued chain, PEM.
    public func certificate(_ url: String) throws -> [UInt8] {
        try signedPost(url, payload: "", operation: "downloading the certificate", accept: "application/pem-certificate-chain").body
    }

    // MARK: requests

    /// A JWS-signed POST (a POST-as-GET when `payload` is empty), retried with a fresh nonce when
    /// the CA refuses the one it was signed with.
    func signedPost(_ url: String, payload: String, useKID: Bool = true, operation: String,
                    accept: String? = nil) throws -> HTTPSClient.Response {
        let account = useKID ? state.withLock({ $0.account }) : nil
        if useKID && account == nil { throw ACMEError(operation, detail: "no ACME account yet") }
        var tries = 0
        while true {
            tries += 1
            let body = try signer.sign(payload: payload, url: url, nonce: try nonce(), accountURL: account)
            var headers = [("Content-Type", "application/jose+json")]
            if let accept { headers.append(("Accept", accept)) }
            do {
                return try request("POST", url, headers: headers, body: Array(body.utf8), operation: operation)
            } catch let error as ACMEError where error.problem == "badNonce" && tries < Self.nonceRetries {
                Log.info("ACME: the CA refused our nonce (badNonce) while \(operation); sending again with the one it gave")
                continue
            } catch let error as ACMEError where error.problem == "accountDoesNotExist" {
                // The CA no longer knows the account (a test CA restarted, an account deactivated):
                // the next `account(email:)` registers the key again.
                state.withLock { $0.account = nil }
                throw error
            }
        }
    }

    /// One request; its Replay-Nonce kept for the next; an answer of 400 or more becomes an
    /// `ACMEError` with the CA's problem.
    private func request(_ method: String, _ url: String, headers: [(String, String)] = [], body: [UInt8] = [],
                         operation: String) throws -> HTTPSClient.Response {
        let response: HTTPSClient.Response
        do {
            response = try transport.send(method, url, headers: headers, body: body)
        } catch let error as TLSError {
            throw ACMEError(operation, detail: error.description)
        }
        if let nonce = response.headers["Replay-Nonce"] {
            state.withLock { s in
                s.nonces.append(nonce)
                if s.nonces.count > 8 { s.nonces.removeFirst() }
            }
        }
        guard response.status < 400 else {
            let problem = try? JSONParser.parse(response.body)
            var type = problem?["type"]?.stringValue
            if let t = type, t.hasPrefix(Self.problemPrefix) { type = String(t.dropFirst(Self.problemPrefix.count)) }
            let detail = problem?["detail"]?.stringValue ?? "the CA answered \(response.status)"
            throw ACMEError(operation, problem: type, detail: String(detail.prefix(500)), status: response.status,
                            retryAfter: response.headers["Retry-After"].flatMap { Int($0) })
        }
        return response
    }

    private static func json(_ response: HTTPSClient.Response, _ operation: String) throws -> JSON {
        do {
            return try JSONParser.parse(response.body)
        } catch {
            throw ACMEError(operation, detail: "the CA's answer is not JSON", status: response.status)
        }
    }

    private static func order(url: String, _ json: JSON) throws -> Order {
        guard let status = json["status"]?.stringValue, let finalize = json["finalize"]?.stringValue else {
            throw ACMEError("reading the order", detail: "the order lacks status or finalize")
        }
        return Order(url: url, status: status, authorizations: (json["authorizations"]?.arrayValue ?? []).compactMap(\.stringValue),
                     finalize: finalize, certificate: json["certificate"]?.stringValue)
    }
}
