import Glibc
import SlipwayHTTP
import SlipwaySystem

/// The host names the dashboard and the API answer to: the `--public-url` host, the `--host`
/// address (unless it is a wildcard) and the loopback names. A page that DNS rebinding pointed at
/// this server is still, to the browser, the attacker's origin, and its requests carry the
/// attacker's name in Host; so a request for any other name is refused (421), and an Origin must
/// name one of these too.
///
/// Names are compared lower-cased, without a port and without a trailing dot, with IPv6
/// addresses bracketed in their canonical form.
struct HostNames: Sendable, Equatable {
    /// `--host` and the public URL's host, normalized; loopback names are accepted besides.
    let configured: [String]
    /// The public URL as a browser writes it in Origin (`https://deploy.example.com`).
    let publicOrigin: String?
    /// `--host` is a wildcard and no `--public-url` names the server: only loopback names work.
    let loopbackOnly: Bool

    init(host: String, publicURL: String?) {
        var configured = [String]()
        var publicOrigin: String?
        if let publicURL, let origin = Self.origin(of: publicURL), let name = Self.name(inAuthority: origin.authority) {
            configured.append(name)
            publicOrigin = origin.scheme + "://" + Self.withoutDefaultPort(origin.authority, scheme: origin.scheme)
        }
        let bound = Self.normalized(host)
        if let bound, !Self.isWildcard(bound) { configured.append(bound) }
        self.configured = configured
        self.publicOrigin = publicOrigin
        loopbackOnly = configured.isEmpty
    }

    init(_ config: Configuration) {
        self.init(host: config.host, publicURL: config.publicURL)
    }

    /// Whether a request with this Host header is for this server. A request with none is
    /// accepted: HTTP/1.1 requires Host (the parser answers 400 without one), and every browser
    /// sends it, so only an HTTP/1.0 client that is no browser gets here without one.
    func accepts(host header: String?) -> Bool {
        guard let header else { return true }
        guard let name = Self.name(inAuthority: Substring(header)) else { return false }
        return Self.isLoopback(name) || configured.contains(name)
    }

    /// Whether a request sent by a page of `origin` comes from this server's own pages: the public
    /// URL itself, or a name this server answers to on the port the request was sent to (an app
    /// on another port of the same name is another origin). `host` is the request's Host header.
    func accepts(origin: String, host: String?) -> Bool {
        let lowered = origin.lowercased()
        if let publicOrigin, lowered == publicOrigin { return true }
        guard let parsed = Self.origin(of: lowered), parsed.path.isEmpty,
              let name = Self.name(inAuthority: parsed.authority), Self.isLoopback(name) || configured.contains(name)
        else { return false }
        let requestPort = host.flatMap { Self.split(Substring($0))?.port }
        return Self.split(parsed.authority)?.port == requestPort
    }

    /// The answer to a request for another name. It never repeats the Host it was sent, nor
    /// names the configured ones: a rebinding page could read it.
    var misdirected: HTTPError {
        let message = loopbackOnly
            ? "this server answers only to localhost, 127.0.0.1 and [::1] while --host is a wildcard address and no "
                + "--public-url is set; set --public-url to the URL you open it at"
            : "this server does not answer to that host name; open it at its --public-url, its --host address or a loopback name"
        return HTTPError(421, message, code: "misdirected_request")
    }

    /// The host name the dashboard shares with the apps, when it does and it is not loopback:
    /// browsers send a host's cookies to all its ports, so an app opened there receives the
    /// admin's session cookie. The dashboard's name is the public URL's host, else `--host`.
    /// The apps' is `--apps-host`; without it they listen on `--host`, which is the dashboard's
    /// name too unless it is loopback (then the apps cannot be reached by another name).
    static func sharedWithApps(host: String, publicURL: String?, appsHost: String?) -> String? {
        let bound = HostNames(host: host, publicURL: nil).configured.first
        guard let dashboard = HostNames(host: host, publicURL: publicURL).configured.first,
              !isLoopback(dashboard) else { return nil }
        let apps: String?
        if let appsHost, !appsHost.isEmpty {
            apps = normalized(appsHost)
        } else if let bound, isLoopback(bound) {
            apps = bound
        } else {
            apps = dashboard
        }
        return apps == dashboard ? dashboard : nil
    }

    // MARK: parsing

    static func isLoopback(_ name: String) -> Bool {
        if name == "localhost" || name == "[::1]" { return true }
        var address = in_addr()
        guard inet_pton(AF_INET, name, &address) == 1 else { return false }
        return UInt32(bigEndian: address.s_addr) >> 24 == 127
    }

    static func isWildcard(_ name: String) -> Bool { name == "0.0.0.0" || name == "[::]" }

    /// The host of "host", "host:port", "[v6]" or "[v6]:port", normalized; nil when malformed.
    static func name(inAuthority authority: Substring) -> String? {
        split(authority).flatMap { normalized(String($0.host)) }
    }

    /// Lower-cased, without a trailing dot, IPv6 bracketed and canonical (so [0:0::1] is [::1]).
    /// A bare IPv6 address (`--host ::1`) is bracketed first.
    static func normalized(_ name: String) -> String? {
        var name = name.lowercased()
        if name.hasOccurrence(of: ":") && !name.hasPrefix("[") { name = "[" + name + "]" }
        if name.hasSuffix(".") { name.removeLast() }
        guard !name.isEmpty else { return nil }
        if name.hasPrefix("[") {
            guard name.hasSuffix("]") else { return nil }
            var address = in6_addr()
            guard inet_pton(AF_INET6, String(name.dropFirst().dropLast()), &address) == 1 else { return nil }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil else { return nil }
            return "[" + String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "]"
        }
        // Host names and IPv4 addresses: letters, digits, dots, dashes and underscores only.
        guard name.utf8.allSatisfy({ $0 == 0x2d || $0 == 0x2e || $0 == 0x5f || (0x30...0x39).contains($0) || (0x61...0x7a).contains($0) })
        else { return nil }
        return name
    }

    /// Host and port of an authority; the port is nil when absent, and must be digits.
    static func split(_ authority: Substring) -> (host: Substring, port: Substring?)? {
        var host = authority, port: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[...close]
            let rest = authority[authority.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                port = rest.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            port = authority[authority.index(after: colon)...]
        }
        if let port, port.isEmpty || !port.utf8.allSatisfy({ (0x30...0x39).contains($0) }) { return nil }
        return (host, port)
    }

    /// Scheme, authority (without user info) and whatever follows it, of an http or https URL.
    static func origin(of url: String) -> (scheme: String, authority: Substring, path: Substring)? {
        let lowered = url.lowercased()
        let scheme: String
        if lowered.hasPrefix("http://") { scheme = "http" } else if lowered.hasPrefix("https://") { scheme = "https" } else { return nil }
        let rest = url.dropFirst(scheme.count + 3)
        let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        var authority = rest[..<end]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        return (scheme, authority, rest[end...])
    }

    /// "host:443" for https and "host:80" for http as a browser writes them: without the port.
    private static func withoutDefaultPort(_ authority: Substring, scheme: String) -> String {
        let lowered = authority.lowercased()
        let suffix = scheme == "https" ? ":443" : ":80"
        return lowered.hasSuffix(suffix) ? String(lowered.dropLast(suffix.count)) : lowered
    }
}
