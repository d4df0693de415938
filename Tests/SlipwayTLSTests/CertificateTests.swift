import Synchronization
import XCTest
@testable import SlipwayTLS

/// Keys and chains: made, written as PEM and read back, checked against each other, described.
final class CertificateTests: XCTestCase {
    func testASelfSignedCertificateNamesItsHostsAndRoundTripsThroughPEM() throws {
        let key = try PrivateKey.generateP256()
        XCTAssertEqual(key.kind, "EC")
        let chain = try SelfSignedCertificate.make(names: ["app.test", "*.app.test"], key: key, validSeconds: 3600)
        XCTAssertEqual(chain.dnsNames, ["app.test", "*.app.test"])
        XCTAssertEqual(chain.issuer, "app.test", "self-signed: its own common name")
        let now = Int(Date().timeIntervalSince1970)
        XCTAssertEqual(chain.notAfter - now, 3600, accuracy: 5)
        XCTAssertLessThanOrEqual(chain.notBefore, now)

        let pem = try chain.pem()
        XCTAssertTrue(String(decoding: pem, as: UTF8.self).hasPrefix("-----BEGIN CERTIFICATE-----\n"))
        let again = try CertificateChain(pem: pem)
        XCTAssertEqual(again.dnsNames, chain.dnsNames)
        XCTAssertEqual(again.notAfter, chain.notAfter)
        let keyAgain = try PrivateKey(pem: try key.pem())
        XCTAssertTrue(again.matches(keyAgain))
    }

    func testAChainKeepsItsOrderAndAKeyThatIsNotTheCertificatesIsRefused() throws {
        let leafKey = try PrivateKey.generateP256()
        let otherKey = try PrivateKey.generateP256()
        let leaf = try SelfSignedCertificate.make(names: ["leaf.test"], key: leafKey, validSeconds: 60)
        let second = try SelfSignedCertificate.make(names: ["second.test"], key: otherKey, validSeconds: 60)
        let chain = try CertificateChain(pem: try leaf.pem() + Array("\n".utf8) + second.pem())
        XCTAssertEqual(chain.certificates.count, 2)
        XCTAssertEqual(chain.dnsNames, ["leaf.test"], "the first is the leaf")
        XCTAssertFalse(chain.matches(otherKey))
        XCTAssertThrowsError(try ServerCertificate(chain: chain, key: otherKey)) { error in
            XCTAssertEqual((error as? TLSError)?.reason, "the private key does not match the certificate")
        }
        XCTAssertNoThrow(try ServerCertificate(chain: chain, key: leafKey))
    }

    func testInputThatIsNoPEMGetsAnErrorThatSaysSoAndHoldsNoneOfIt() {
        let secret = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0IGtleSBieXRlcw==\n-----END PRIVATE KEY-----\n"
        XCTAssertThrowsError(try CertificateChain(pem: Array("hello".utf8))) { error in
            XCTAssertEqual((error as? TLSError)?.reason, "no PEM certificate found")
        }
        XCTAssertThrowsError(try PrivateKey(pem: Array(secret.utf8))) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.hasPrefix("reading the private key: "), text)
            XCTAssertFalse(text.contains("c2VjcmV0"), "no key bytes in an error: \(text)")
        }
        XCTAssertThrowsError(try SelfSignedCertificate.make(names: ["a.test,DNS:evil.test"], key: try PrivateKey.generateP256(), validSeconds: 60))
    }

    func testTheStoreFindsExactNamesBeforeOneLabelWildcards() throws {
        let key = try PrivateKey.generateP256()
        let exact = try ServerCertificate(chain: SelfSignedCertificate.make(names: ["www.b.test"], key: key, validSeconds: 60), key: key)
        let wildcard = try ServerCertificate(chain: SelfSignedCertificate.make(names: ["*.b.test"], key: key, validSeconds: 60), key: key)
        let store = CertificateStore()
        store.install(exact, for: "WWW.b.test.")
        store.install(wildcard, for: "*.b.test")
        XCTAssertTrue(store.certificate(for: "www.b.test") === exact)
        XCTAssertTrue(store.certificate(for: "API.b.test") === wildcard)
        XCTAssertNil(store.certificate(for: "b.test"), "a wildcard does not cover its parent")
        XCTAssertNil(store.certificate(for: "x.api.b.test"), "nor two labels")
        store.remove("www.b.test")
        XCTAssertTrue(store.certificate(for: "www.b.test") === wildcard)
        XCTAssertEqual(store.names, ["*.b.test"])
    }

    func testACertificateIsShownOnlyForANameThatIsServed() throws {
        let key = try PrivateKey.generateP256()
        let certificate = try ServerCertificate(chain: SelfSignedCertificate.make(names: ["a.test"], key: key, validSeconds: 60), key: key)
        let served = Mutex<Set<String>>(["a.test"])
        let store = CertificateStore(isServed: { name in served.withLock { $0.contains(name) } })
        store.install(certificate, for: "a.test")
        XCTAssertTrue(store.certificate(for: "a.test") === certificate)
        served.withLock { $0 = [] }
        XCTAssertNil(store.certificate(for: "a.test"), "kept, but shown to no one")
        XCTAssertEqual(store.names, ["a.test"])
        served.withLock { $0 = ["a.test"] }
        XCTAssertTrue(store.certificate(for: "a.test") === certificate, "back with its name")
    }
}
