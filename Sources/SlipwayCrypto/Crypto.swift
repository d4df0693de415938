import CCrypto

/// The cryptography Slipway needs, over OpenSSL's libcrypto. Nothing from OpenSSL is visible to callers.
public enum Crypto {
    /// HMAC-SHA256 of `message` keyed with `key` (RFC 2104), 32 bytes.
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var outLength: UInt32 = 0
        let ok = withBytes(key) { k, kc in
            withBytes(message) { m, mc in
                out.withUnsafeMutableBufferPointer { o in
                    HMAC(sha256, k, Int32(kc), m, mc, o.baseAddress, &outLength)
                }
            }
        }
        precondition(ok != nil && outLength == 32, "libcrypto HMAC-SHA256 failed")
        return out
    }

    /// SHA-256 digest, 32 bytes.
    public static func sha256(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var outLength: UInt32 = 0
        let ok = withBytes(data) { d, dc in
            out.withUnsafeMutableBufferPointer { o in
                EVP_Digest(d, dc, o.baseAddress, &outLength, sha256, nil)
            }
        }
        precondition(ok == 1 && outLength == 32, "libcrypto SHA-256 failed")
        return out
    }

    /// SHA-256, fetched from OpenSSL's provider once. OpenSSL 3 otherwise looks the algorithm up
    /// on every call (EVP_Q_mac, EVP_sha256), under a lock that concurrent webhook checks queue on.
    /// nonisolated(unsafe) is safe: the pointer is written once, at first use, by Swift's thread-safe
    /// global initialisation, and OpenSSL documents a fetched EVP_MD as shareable between threads.
    nonisolated(unsafe) private static let sha256: OpaquePointer? = EVP_MD_fetch(nil, "SHA256", nil)

    /// Compares in time that depends only on the length, so a MAC check leaks nothing about where bytes differ.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 }
        }
    }

    /// Bytes from OpenSSL's CSPRNG.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return out }
        let ok = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        precondition(ok == 1, "libcrypto RAND_bytes failed")
        return out
    }

    /// PBKDF2-HMAC-SHA256 (RFC 8018).
    public static func pbkdf2SHA256(password: [UInt8], salt: [UInt8], iterations: Int, length: Int = 32) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        let ok = withBytes(password) { p, pc in
            withBytes(salt) { s, sc in
                out.withUnsafeMutableBufferPointer { o in
                    PKCS5_PBKDF2_HMAC(UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self), Int32(pc), s, Int32(sc),
                                      Int32(iterations), sha256, Int32(length), o.baseAddress)
                }
            }
        }
        precondition(ok == 1, "libcrypto PBKDF2 failed")
        return out
    }

    /// Calls `body` with a pointer that is never null, as libcrypto wants even for empty input.
    private static func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
        let storage = bytes.isEmpty ? [0] : bytes
        return storage.withUnsafeBufferPointer { body($0.baseAddress!, bytes.count) }
    }
}
