import CTLS
import FoundationEssentials
import XCTest
@testable import SlipwayTLS

/// What ACME asks of the client's cryptography: ES256 JSON Web Signatures with the account key,
/// the key's JWK and thumbprint, and a certificate request; each checked with OpenSSL's own
/// verification, not with the code that made it.
final class ACMECryptoTests: XCTestCase {
    private struct FlattenedJWS: Decodable {
        let protected: String
        let payload: String
        let signature: String
    }

    private struct ProtectedHeader: Decodable {
        struct JWK: Decodable, Equatable {
            let crv: String
            let kty: String
            let x: String
            let y: String
        }

        let alg: String
        let jwk: JWK?
        let kid: String?
        let nonce: String
        let url: String
    }

    /// Verifies an ES256 signature (r and s) over `message` with OpenSSL, from DER it builds itself.
    private func verify(_ raw: [UInt8], over message: [UInt8], key: PrivateKey) -> Bool {
        guard raw.count == 64, let signature = ECDSA_SIG_new() else { return false }
        defer { ECDSA_SIG_free(signature) }
        let r = BN_bin2bn(raw, 32, nil)
        let s = Array(raw[32...]).withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, 32, nil) }
        guard ECDSA_SIG_set0(signature, r, s) == 1 else { return false }
        var der: UnsafeMutablePointer<UInt8>?
        let length = i2d_ECDSA_SIG(signature, &der)
        guard length > 0, let der else { return false }
        defer { CRYPTO_free(der, #fileID, #line) }
        let context = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(context) }
        return EVP_DigestVerifyInit(context, nil, EVP_sha256(), nil, key.pointer) == 1
            && EVP_DigestVerify(context, der, Int(length), message, message.count) == 1
    }

    func testANewAccountRequestIsSignedES256AndCarriesTheKey() throws {
        let key = try PrivateKey.generateP256()
        let signer = try JWSSigner(key: key)
        let body = try signer.sign(payload: #"{"termsOfServiceAgreed":true}"#, url: "https://ca.test/new-acct", nonce: "n0nce-1",
                                   accountURL: nil)
        let jws = try JSONDecoder().decode(FlattenedJWS.self, from: Data(body.utf8))
        let header = try JSONDecoder().decode(ProtectedHeader.self, from: Data(try XCTUnwrap(Base64URL.decode(jws.protected))))
        XCTAssertEqual(header.alg, "ES256")
        XCTAssertEqual(header.nonce, "n0nce-1")
        XCTAssertEqual(header.url, "https://ca.test/new-acct")
        XCTAssertNil(header.kid)
        let jwk = try XCTUnwrap(header.jwk)
        XCTAssertEqual([jwk.crv, jwk.kty], ["P-256", "EC"])
        XCTAssertEqual(Base64URL.decode(jws.payload).map { String(decoding: $0, as: UTF8.self) }, #"{"termsOfServiceAgreed":true}"#)
        let signature = try XCTUnwrap(Base64URL.decode(jws.signature))
        XCTAssertTrue(verify(signature, over: Array("\(jws.protected).\(jws.payload)".utf8), key: key))
        XCTAssertFalse(verify(signature, over: Array("\(jws.protected).x\(jws.payload)".utf8), key: key), "the check can fail")

        // The JWK's coordinates are the key's public point, as OpenSSL writes it in SubjectPublicKeyInfo.
        var spki: UnsafeMutablePointer<UInt8>?
        let length = i2d_PUBKEY(key.pointer, &spki)
        let point = Array(UnsafeBufferPointer(start: try XCTUnwrap(spki), count: Int(length)).suffix(64))
        CRYPTO_free(spki, #fileID, #line)
        XCTAssertEqual(Base64URL.decode(jwk.x), Array(point[0..<32]))
        XCTAssertEqual(Base64URL.decode(jwk.y), Array(point[32..<64]))
    }

    func testLaterRequestsNameTheAccountAndAPostAsGetHasAnEmptyPayload() throws {
        let signer = try JWSSigner(key: try PrivateKey.generateP256())
        let body = try signer.sign(payload: "", url: "https://ca.test/order/1", nonce: "n2", accountURL: "https://ca.test/acct/7")
        let jws = try JSONDecoder().decode(FlattenedJWS.self, from: Data(body.utf8))
        let header = try JSONDecoder().decode(ProtectedHeader.self, from: Data(try XCTUnwrap(Base64URL.decode(jws.protected))))
        XCTAssertEqual(header.kid, "https://ca.test/acct/7")
        XCTAssertNil(header.jwk, "kid and jwk never both")
        XCTAssertEqual(jws.payload, "")
        XCTAssertTrue(verify(try XCTUnwrap(Base64URL.decode(jws.signature)), over: Array("\(jws.protected).".utf8), key: signer.key))
    }

    func testTheThumbprintIsTheSHA256OfTheCanonicalJWK() throws {
        let signer = try JWSSigner(key: try PrivateKey.generateP256())
        let jwk = try signer.jwk()
        XCTAssertTrue(jwk.hasPrefix(#"{"crv":"P-256","kty":"EC","x":""#), "members in RFC 7638's order, no whitespace: \(jwk)")
        var digest = [UInt8](repeating: 0, count: 32)
        var length = 0
        XCTAssertEqual(EVP_Q_digest(nil, "SHA256", nil, jwk, jwk.utf8.count, &digest, &length), 1)
        XCTAssertEqual(try signer.thumbprint(), Base64URL.encode(digest))
        XCTAssertEqual(try signer.thumbprint().count, 43)
    }

    func testACertificateRequestNamesItsHostsAndIsSignedByItsKey() throws {
        let key = try PrivateKey.generateP256()
        let der = try CertificateRequest.der(names: ["a.test", "www.a.test"], key: key)
        var cursor: UnsafePointer<UInt8>? = nil
        let request = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            cursor = buffer.baseAddress
            return d2i_X509_REQ(nil, &cursor, buffer.count)
        }
        let parsed = try XCTUnwrap(request)
        defer { X509_REQ_free(parsed) }
        XCTAssertEqual(X509_REQ_verify(parsed, key.pointer), 1)
        XCTAssertNotEqual(X509_REQ_verify(parsed, try PrivateKey.generateP256().pointer), 1, "another key does not verify it")
        var common = [CChar](repeating: 0, count: 64)
        XCTAssertGreaterThan(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(parsed), NID_commonName, &common, 64), 0)
        XCTAssertEqual(String(decoding: common.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), "a.test")
        let extensions = X509_REQ_get_extensions(parsed)
        let names = OpaquePointer(X509V3_get_d2i(extensions, NID_subject_alt_name, nil, nil))
        let found = (0..<2).compactMap { index -> String? in
            var length: Int32 = 0
            guard let names, let bytes = slipway_x509_dns_name_at(names, Int32(index), &length) else { return nil }
            return String(decoding: UnsafeBufferPointer(start: bytes, count: Int(length)), as: UTF8.self)
        }
        XCTAssertEqual(found, ["a.test", "www.a.test"])
        XCTAssertThrowsError(try CertificateRequest.der(names: ["a.test,DNS:b.test"], key: key))
    }

    func testBase64URLHasNoPaddingAndTheURLAlphabet() {
        XCTAssertEqual(Base64URL.encode([0xfb, 0xff]), "-_8")
        XCTAssertEqual(Base64URL.decode("-_8"), [0xfb, 0xff])
        XCTAssertNil(Base64URL.decode("a$b"))
    }
}
