import Synchronization

/// Drops the notice a docker client from 23.0 on prints before every classic build when
/// DOCKER_BUILDKIT=0 is set:
///
///     DEPRECATED: The legacy builder is deprecated and will be removed in a future release.
///                 BuildKit is currently disabled; enable it by removing the DOCKER_BUILDKIT=0
///                 environment-variable.
///
/// Slipway sets that variable itself, because such a client has no BuildKit without the buildx
/// plugin, so the notice tells the user to remove a variable they never set. The deployment log
/// says in its own line which builder runs and why (`BuilderChoice`).
final class LegacyBuilderNotice: Sendable {
    private let inNotice = Mutex(false)

    /// Whether `line` belongs to the notice: its first line, and the indented lines after it.
    func drops(_ line: String) -> Bool {
        inNotice.withLock { inside in
            if line.hasPrefix("DEPRECATED: The legacy builder is deprecated") {
                inside = true
                return true
            }
            if inside, line.first == " " || line.first == "\t" { return true }
            inside = false
            return false
        }
    }
}
