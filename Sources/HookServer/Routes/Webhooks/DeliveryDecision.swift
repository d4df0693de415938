import Pipeline
import SlipwaySystem

/// What a signed, well-formed delivery asks for, decided from its event and payload alone: a
/// pure function, so every branch is a line in a table test.
enum DeliveryDecision: Equatable {
    case ping
    /// Nothing to do, and why (shown on the app's page and in the answer).
    case ignore(String)
    /// Deploy this commit.
    case deploy(sha: String, message: String?, author: String?)
    /// A push whose payload makes no sense; answered 400 `bad_payload` with this message.
    case reject(String)

    /// The members of a delivery that `decide` reads; the rest is validated but not built.
    static let payloadKeys: Set<String> = ["ref", "after", "deleted", "head_commit"]

    static func decide(event: String, payload: JSON, branch: String) -> DeliveryDecision {
        switch event {
        case "ping": return .ping
        case "push": return push(payload, branch: branch)
        default: return .ignore("event \(event) is not handled; only push deploys")
        }
    }

    private static func push(_ payload: JSON, branch: String) -> DeliveryDecision {
        guard let ref = payload["ref"]?.stringValue, let after = payload["after"]?.stringValue else {
            return .reject("the push payload has no ref or after")
        }
        let branchRef = "refs/heads/\(branch)"
        if ref.hasPrefix("refs/tags/") { return .ignore("tag push (\(ref.dropFirst(10))) does not deploy") }
        if ref != branchRef { return .ignore("push to \(ref) does not deploy; this app deploys \(branchRef)") }
        if payload["deleted"]?.boolValue == true || after == String(repeating: "0", count: 40) {
            return .ignore("branch \(branch) was deleted")
        }
        guard after.count == 40, after.allSatisfy(\.isHexDigit) else { return .reject("after is not a commit sha") }
        let head = payload["head_commit"]
        let authorObject = head?["author"]
        let author = authorObject?["name"]?.stringValue.map { name in
            authorObject?["email"]?.stringValue.map { "\(name) <\($0)>" } ?? name
        }
        let message = head?["message"]?.stringValue.map { String($0.split(separator: "\n", omittingEmptySubsequences: false).first ?? "") }
        return .deploy(sha: after.lowercased(), message: message, author: author)
    }
}
