import Dispatch
import FoundationEssentials
import Glibc
import Pipeline
import SlipwaySystem

// Started as `ssh` by Docker's SSH transport: become the real ssh with Slipway's options, before
// any signal is blocked (ssh inherits the mask).
if let argv0 = CommandLine.arguments.first, SSHWrapper.isInvoked(as: argv0) {
    SSHWrapper.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
}

// A client that disappears mid-write must give EPIPE, not kill the process.
signal(SIGPIPE, SIG_IGN)
// Blocked here, before any thread exists, so every thread inherits the mask and only the
// server's sigwait thread ever takes these signals. Children get them unblocked again.
var stopSignals = sigset_t()
sigemptyset(&stopSignals)
sigaddset(&stopSignals, SIGTERM)
sigaddset(&stopSignals, SIGINT)
// SIGHUP starts a seamless upgrade (`Application.run`), as systemd's reload.
sigaddset(&stopSignals, SIGHUP)
pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

// `slipway apps`, `slipway deploy APP --wait`...: the client of a server's API.
if let first = CommandLine.arguments.dropFirst().first, ClientCLI.commands.contains(first) || first == "help" {
    let arguments = Array(CommandLine.arguments.dropFirst())
    if first == "help" {
        if let command = arguments.dropFirst().first {
            guard let text = ClientCLI.commandHelp[command] else {
                PosixFile.writeAll(2, Array("slipway: no command '\(command)' (try slipway help)\n".utf8))
                exit(2)
            }
            print(text, terminator: "")
        } else {
            print(ClientCLI.help, terminator: "")
        }
        exit(0)
    }
    exit(ClientCLI(environment: ProcessInfo.processInfo.environment).run(arguments))
}

let command: Command
do {
    command = try CommandLineParser.parse(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
} catch {
    PosixFile.writeAll(2, Array("slipway: \(error.message)\n".utf8))
    exit(2)
}

switch command {
case .help:
    print(CommandLineParser.helpText, terminator: "")
    exit(0)
case .version:
    print("slipway \(CommandLineParser.version)")
    exit(0)
case .serve(let config):
    // Everything the server and its children create is theirs alone: the data directory holds
    // webhook secrets, tokens and env values. git and ssh-keygen make their files under it too,
    // so mirrors come out 0700/0600 (git's read-only objects 0400) and a key's public half 0600.
    // Images are not affected: `docker build` reads a tar whose modes git archive takes from the
    // commit, and the engine, not this process, writes the layers.
    umask(0o077)
    do {
        let app = try Application(config: config)
        exit(app.run())
    } catch {
        Log.error("start-up failed: \(error)")
        exit(1)
    }
}
