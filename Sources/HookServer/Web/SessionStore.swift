import FoundationEssentials
import Pipeline
import SlipwayCrypto
import SlipwayHTTP
import Synchronization

/// A logged-in browser. Sessions live in memory: a restart logs everyone out, which is the
/// safe direction, and there is a single admin, so the table stays tiny.
struct Session: Sendable {
    let id: String
    let csrfToken: String
    let created: Date
    var lastSeen: Date
    /// Secrets to show once (a new webhook secret), by app name.
    var shownOnce: [String: String] = [:]
}

final class SessionStore: Sendable {
    /// The session cookie's name. Over https it carries the `__Host-` prefix: a browser then
    /// accepts it only with Secure, Path=/ and no Domain, set by an https page of this very host,
    /// so an app on a sibling name or over plain http can neither widen nor overwrite it.
    let cookieName: String
    /// OWASP's suggestion for a low-risk admin: idle 30 minutes would be strict; a deploy tool
    /// is watched for longer, so idle 2 hours and at most 12 hours in all.
    let idleTimeout: TimeInterval
    let absoluteTimeout: TimeInterval
    private let sessions = Mutex<[String: Session]>([:])

    init(secureCookie: Bool = false, idleTimeout: TimeInterval = 2 * 3600, absoluteTimeout: TimeInterval = 12 * 3600) {
        cookieName = secureCookie ? "__Host-slipway_session" : "slipway_session"
        self.idleTimeout = idleTimeout
        self.absoluteTimeout = absoluteTimeout
    }

    func create() -> Session {
        let now = Date()
        let session = Session(id: PasswordHash.randomToken(bytes: 32), csrfToken: PasswordHash.randomToken(bytes: 32),
                              created: now, lastSeen: now)
        sessions.withLock { all in
            // Forget expired sessions while we are here.
            all = all.filter { now.timeIntervalSince($0.value.lastSeen) < idleTimeout && now.timeIntervalSince($0.value.created) < absoluteTimeout }
            all[session.id] = session
        }
        return session
    }

    /// The live session named by the request's cookie, touched; nil when missing or expired.
    func session(for request: HTTPRequest) -> Session? {
        guard let id = Self.cookie(cookieName, in: request) else { return nil }
        let now = Date()
        return sessions.withLock { all -> Session? in
            guard var s = all[id] else { return nil }
            if now.timeIntervalSince(s.lastSeen) >= idleTimeout || now.timeIntervalSince(s.created) >= absoluteTimeout {
                all[id] = nil
                return nil
            }
            s.lastSeen = now
            all[id] = s
            return s
        }
    }

    func destroy(_ id: String) { _ = sessions.withLock { $0.removeValue(forKey: id) } }

    func showOnce(_ sessionID: String, key: String, secret: String) {
        sessions.withLock { $0[sessionID]?.shownOnce[key] = secret }
    }

    /// Takes a secret to show; it is gone afterwards.
    func takeShownOnce(_ sessionID: String, key: String) -> String? {
        sessions.withLock { $0[sessionID]?.shownOnce.removeValue(forKey: key) }
    }

    static func cookie(_ name: String, in request: HTTPRequest) -> String? {
        for header in request.headers.values("Cookie") {
            for pair in header.split(separator: ";") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0].trimmingSpaces() == name { return String(kv[1].trimmingSpaces()) }
            }
        }
        return nil
    }
}
