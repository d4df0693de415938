import Edge
import Synchronization

/// The HTTP-01 answers of the orders in progress, by token: the certificate manager adds one
/// before telling the CA to look, and takes it away when the authorization is decided; the HTTP
/// edge serves them.
public final class PendingChallenges: ChallengeAnswers {
    private let answers = Mutex<[String: String]>([:])

    public init() {}

    public func keyAuthorization(token: String) -> String? { answers.withLock { $0[token] } }

    func add(token: String, keyAuthorization: String) { answers.withLock { $0[token] = keyAuthorization } }

    func remove(token: String) { answers.withLock { $0[token] = nil } }
}
