/// What the running process does at each step of handing over to its successor
/// (`UpgradeHandover` drives the steps; `Application` does them).
protocol HandoverParticipant: Sendable {
    /// Starts no more deployments and waits for the running ones, leaves the apps to the
    /// successor's supervisor, holds new dashboard connections in the backlog, and returns copies
    /// of every listening socket. Throws, having undone all of it, when deployments still run.
    func prepareHandover() throws(HandoverRefusal) -> [HandedListener]
    /// The successor ended before it was ready: everything `prepareHandover` paused goes on.
    func abandonHandover()
    /// The successor serves: stop accepting (leaving the sockets listening) and stop the background
    /// work; in-flight requests and relays then drain, and the process exits.
    func completeHandover()
}

/// Why the running process did not hand over.
struct HandoverRefusal: Error, CustomStringConvertible {
    let description: String
}
