/// ACME's HTTP-01 answers the HTTP edge serves at `/.well-known/acme-challenge/<token>`, for any
/// host: the CA asks at the domain being validated. A token it does not know goes on to the app,
/// which may run an ACME client of its own.
public protocol ChallengeAnswers: Sendable {
    func keyAuthorization(token: String) -> String?
}
