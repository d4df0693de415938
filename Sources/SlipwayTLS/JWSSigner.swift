import CTLS
import FoundationEssentials
import SlipwayCrypto

/// Signs ACME requests (RFC 8555 section 6.2): a JSON Web Signature in the flattened JSON form,
/// ES256 with the account's P-256 key (RFC 7518 section 3.4: the signature is r and s, 32 bytes
/// each, not OpenSSL's DER).
public struct JWSSigner: Sendable {
    public let key: PrivateKey

    public init(key: PrivateKey) throws(TLSError) {
        guard key.kind == "EC" else { throw TLSError("signing ACME requests", reason: "the account key must be ECDSA P-256") }
        self.key = key
    }

    /// The public key as a JWK, its members in the order RFC 7638 hashes them.
    public func jwk() throws(TLSError) -> String {
        let (x, y) = try publicPoint()
        return #"{"crv":"P-256","kty":"EC","x":"\#(Base64URL.encode(x))","y":"\#(Base64URL.encode(y))"}"#
    }

    /// The JWK's thumbprint (RFC 7638), base64url: what an ACME key authorization ends with.
    public func thumbprint() throws(TLSError) -> String {
        Base64URL.encode(Crypto.sha256(Array(try jwk().utf8)))
    }

    /// A request body for `url`: the protected header names the key (`jwk`, for newAccount) or
    /// the account (`kid`), and carries the server's nonce. An empty `payload` is a POST-as-GET.
    public func sign(payload: String, url: String, nonce: String, accountURL: String?) throws(TLSError) -> String {
        let keyMember: String
        if let accountURL {
            keyMember = #""kid":\#(Self.quoted(accountURL))"#
        } else {
            keyMember = #""jwk":\#(try jwk())"#
        }
        let protected = #"{"alg":"ES256",\#(keyMember),"nonce":\#(Self.quoted(nonce)),"url":\#(Self.quoted(url))}"#
        let encodedProtected = Base64URL.encode(protected)
        let encodedPayload = payload.isEmpty ? "" : Base64URL.encode(payload)
        let signature = try sign(Array("\(encodedProtected).\(encodedPayload)".utf8))
        return #"{"protected":"\#(encodedProtected)","payload":"\#(encodedPayload)","signature":"\#(Base64URL.encode(signature))"}"#
    }

    /// ES256 over `message`: r then s, 32 bytes each.
    func sign(_ message: [UInt8]) throws(TLSError) -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw TLSError.fromQueue("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(context) }
        var length = 0
        guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key.pointer) == 1,
              EVP_DigestSign(context, nil, &length, message, message.count) == 1 else {
            throw TLSError.fromQueue("signing an ACME request")
        }
        var der = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &der, &length, message, message.count) == 1 else { throw TLSError.fromQueue("signing an ACME request") }
        return try Self.rawSignature(fromDER: Array(der.prefix(length)))
    }

    static func rawSignature(fromDER der: [UInt8]) throws(TLSError) -> [UInt8] {
        var cursor: UnsafePointer<UInt8>? = nil
        let signature: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            cursor = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
        }
        guard let signature else { throw TLSError.fromQueue("reading an ECDSA signature") }
        defer { ECDSA_SIG_free(signature) }
        var raw = [UInt8](repeating: 0, count: 64)
        guard BN_bn2binpad(ECDSA_SIG_get0_r(signature), &raw, 32) == 32,
              raw.withUnsafeMutableBufferPointer({ BN_bn2binpad(ECDSA_SIG_get0_s(signature), $0.baseAddress! + 32, 32) }) == 32
        else { throw TLSError.fromQueue("writing an ES256 signature") }
        return raw
    }

    /// The public point's coordinates, 32 bytes each.
    private func publicPoint() throws(TLSError) -> ([UInt8], [UInt8]) {
        var point = [UInt8](repeating: 0, count: 65)
        var length = 0
        guard EVP_PKEY_get_octet_string_param(key.pointer, "encoded-pub-key", &point, point.count, &length) == 1,
              length == 65, point[0] == 0x04 else {
            throw TLSError.fromQueue("reading the account key", fallback: "not an uncompressed P-256 point")
        }
        return (Array(point[1..<33]), Array(point[33..<65]))
    }

    /// A JSON string literal of `text` (URLs and nonces: no character needs more than these escapes).
    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
