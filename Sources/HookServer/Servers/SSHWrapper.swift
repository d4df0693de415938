import Glibc
import Pipeline
import SlipwaySystem

/// This binary, started under the name `ssh` by Docker's SSH transport (`docker -H ssh://...`
/// finds it first in the PATH Slipway gives docker): runs the real ssh with Slipway's key, the
/// server's pinned known_hosts and no user or system configuration, then docker's arguments.
/// Docker itself takes no ssh options; this is how they reach ssh without a shell script.
enum SSHWrapper {
    static func isInvoked(as argv0: String) -> Bool {
        argv0 == "ssh" || argv0.hasSuffix("/ssh")
    }

    /// The real ssh and its argv; nil when Slipway did not set the environment up (someone ran
    /// the link by hand), which must not fall back to the user's own ssh set-up.
    static func command(environment: [String: String], arguments: [String]) -> (program: String, argv: [String])? {
        guard let identity = environment[SSHCommands.Environment.identity],
              let knownHosts = environment[SSHCommands.Environment.knownHosts],
              let pinning = environment[SSHCommands.Environment.pin].flatMap(SSHCommands.Pinning.init(rawValue:)),
              let program = environment[SSHCommands.Environment.program], program.hasPrefix("/") else { return nil }
        return (program, ["ssh"] + SSHCommands.options(identity: identity, knownHosts: knownHosts, pinning: pinning) + arguments)
    }

    static func run(arguments: [String], environment: [String: String]) -> Never {
        guard let (program, argv) = command(environment: environment, arguments: arguments) else {
            PosixFile.writeAll(2, Array("slipway's ssh wrapper: run only by Slipway for docker -H ssh:// (its environment is missing)\n".utf8))
            exit(255)
        }
        let cArguments = argv.map { strdup($0) } + [nil]
        execv(program, cArguments)
        PosixFile.writeAll(2, Array("slipway's ssh wrapper: cannot run \(program): \(String(cString: strerror(errno)))\n".utf8))
        exit(255)
    }
}
