import FoundationEssentials
import SlipwayTLS
import XCTest
@testable import ACME

/// The ACME client's side of RFC 8555 against a CA of the tests' making (`FakeCA`): the whole
/// flow from the directory to the certificate, nonces, and the CA's problems as errors. The
/// signatures themselves are checked against OpenSSL in SlipwayTLSTests.
final class ACMEClientTests: XCTestCase {
    private var ca: FakeCA!
    private var client: ACMEClient!

    override func setUpWithError() throws {
        ca = FakeCA()
        client = try ACMEClient(directoryURL: ca.base + "/dir", accountKey: try PrivateKey.generateP256(), transport: ca)
    }

    func testAnOrderGoesFromTheDirectoryToTheCertificate() throws {
        XCTAssertEqual(try client.account(email: "ops@example.com"), ca.base + "/acct/1")
        let order = try client.newOrder(names: ["a.test"])
        XCTAssertEqual(order.url, ca.base + "/order/1")
        XCTAssertEqual(order.status, "pending")
        let authorization = try client.authorization(try XCTUnwrap(order.authorizations.first))
        XCTAssertEqual(authorization.identifier, "a.test")
        let challenge = try XCTUnwrap(authorization.challenges.first { $0.type == "http-01" })
        XCTAssertEqual(challenge.token, ca.token)
        let keyAuthorization = try client.keyAuthorization(token: challenge.token)
        XCTAssertEqual(keyAuthorization, ca.token + "." + (try JWSSigner(key: client.signer.key).thumbprint()))
        try client.respond(to: challenge)
        XCTAssertEqual(try client.authorization(order.authorizations[0]).status, "valid")

        let csr = try CertificateRequest.der(names: ["a.test"], key: try PrivateKey.generateP256())
        let finalized = try client.finalize(order, csr: csr)
        XCTAssertEqual(finalized.status, "valid")
        let chain = try CertificateChain(pem: try client.certificate(try XCTUnwrap(finalized.certificate)))
        XCTAssertEqual(chain.dnsNames, ["a.test"])

        // What the CA saw: one directory read, one nonce fetched (every answer brings the next),
        // every POST a JOSE body, jwk for the account and kid after, the account's contact.
        let seen = ca.seen
        XCTAssertEqual(seen.filter { $0.method == "GET" }.count, 1, "the directory is read once")
        XCTAssertEqual(seen.filter { $0.method == "HEAD" }.count, 1, "nonces come with the answers after the first")
        let posts = seen.filter { $0.method == "POST" }
        XCTAssertTrue(posts.allSatisfy { $0.contentType == "application/jose+json" })
        XCTAssertNotNil(posts[0].protected?["jwk"])
        XCTAssertTrue(posts.dropFirst().allSatisfy { $0.protected?["kid"]?.stringValue == ca.base + "/acct/1" })
        XCTAssertEqual(posts[0].payload, #"{"termsOfServiceAgreed":true,"contact":["mailto:ops@example.com"]}"#)
        let nonces = posts.compactMap { $0.protected?["nonce"]?.stringValue }
        XCTAssertEqual(Set(nonces).count, nonces.count, "no nonce used twice")
    }

    func testARefusedNonceIsRetriedWithTheFreshOne() throws {
        try client.account(email: nil)
        ca.refuseNonces(2)
        XCTAssertEqual(try client.newOrder(names: ["a.test"]).status, "pending")
        XCTAssertEqual(ca.seen.filter { $0.path == "/order" }.count, 3, "two refusals, then the order")
    }

    func testNonceRefusalsAreRetriedABoundedNumberOfTimes() throws {
        try client.account(email: nil)
        ca.refuseNonces(100)
        XCTAssertThrowsError(try client.newOrder(names: ["a.test"])) { error in
            XCTAssertEqual((error as? ACMEError)?.problem, "badNonce")
        }
        XCTAssertEqual(ca.seen.filter { $0.path == "/order" }.count, ACMEClient.nonceRetries)
    }

    func testTheCAsProblemBecomesAnErrorWithItsTypeDetailAndRetryAfter() throws {
        try client.account(email: nil)
        ca.failOrders(status: 429, type: "rateLimited", detail: "too many certificates already issued", retryAfter: "120")
        XCTAssertThrowsError(try client.newOrder(names: ["a.test"])) { error in
            let acme = error as? ACMEError
            XCTAssertEqual(acme?.problem, "rateLimited")
            XCTAssertEqual(acme?.status, 429)
            XCTAssertEqual(acme?.retryAfter, 120)
            XCTAssertEqual(acme?.description, "ordering a certificate for a.test: 429 rateLimited: too many certificates already issued")
        }
    }

    func testNothingIsSignedForAnAccountBeforeThereIsOne() {
        XCTAssertThrowsError(try client.newOrder(names: ["a.test"])) { error in
            XCTAssertEqual((error as? ACMEError)?.detail, "no ACME account yet")
        }
    }

    func testAnAccountTheCAForgotIsRegisteredAgain() throws {
        try client.account(email: nil)
        ca.forgetAccounts()
        XCTAssertThrowsError(try client.newOrder(names: ["a.test"])) { error in
            XCTAssertEqual((error as? ACMEError)?.problem, "accountDoesNotExist")
        }
        try client.account(email: nil)
        XCTAssertEqual(try client.newOrder(names: ["a.test"]).status, "pending")
        XCTAssertEqual(ca.seen.filter { $0.path == "/acct" }.count, 2, "registered again, not taken from the cache")
    }
}
