import Glibc
import SlipwaySystem

/// Certificates a user uploaded, on disk: `<data-dir>/certificates` (0700), a chain and a key
/// per domain (each 0600; a wildcard's files are named `_wildcard.<rest>`). Written to a
/// temporary file and renamed, so a crash leaves the old pair or the new one, never half of one.
struct CertificateFiles: Sendable {
    let directory: String

    init(dataDir: String) throws {
        directory = dataDir + "/certificates"
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw IOError(function: "mkdir \(directory)", errno: errno) }
        chmod(directory, 0o700)
    }

    struct Pair {
        let domain: String
        let chain: [UInt8]
        let key: [UInt8]
        /// "uploaded", or "acme" for what Slipway ordered (which it renews, and never replaces an
        /// uploaded one with).
        var source = "uploaded"
    }

    func save(_ pair: Pair) throws {
        // The key first: a chain on disk always has its key beside it.
        try write(pair.key, to: path(pair.domain, "key"))
        try write(Array(pair.source.utf8), to: path(pair.domain, "source"))
        try write(pair.chain, to: path(pair.domain, "crt"))
    }

    func remove(_ domain: String) {
        unlink(path(domain, "crt"))
        unlink(path(domain, "key"))
        unlink(path(domain, "source"))
    }

    /// Every pair on disk (a chain without its key is skipped).
    func loadAll() -> [Pair] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var pairs: [Pair] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasSuffix(".crt") else { continue }
            let stem = String(name.dropLast(4))
            let domain = stem.hasPrefix("_wildcard.") ? "*." + stem.dropFirst("_wildcard.".count) : stem
            guard let chain = PosixFile.read(path(domain, "crt")), let key = PosixFile.read(path(domain, "key")) else { continue }
            let source = PosixFile.read(path(domain, "source")).map { String(decoding: $0, as: UTF8.self) } ?? "uploaded"
            pairs.append(Pair(domain: domain, chain: chain, key: key, source: source == "acme" ? "acme" : "uploaded"))
        }
        return pairs.sorted { $0.domain < $1.domain }
    }

    private func path(_ domain: String, _ suffix: String) -> String {
        let stem = domain.hasPrefix("*.") ? "_wildcard." + domain.dropFirst(2) : domain
        return "\(directory)/\(stem).\(suffix)"
    }

    private func write(_ bytes: [UInt8], to path: String) throws {
        try PosixFile.replacePrivate(path, with: bytes)
    }
}
