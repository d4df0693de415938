import Dispatch
import Foundation
import Glibc
import Pipeline

/// Wires the store, the credentials, the routes and the HTTP server together for `slipway serve`.
final class Application: Sendable {
    let config: Configuration
    let store: Store
    let credentials: Credentials
    let server: HTTPServer

    init(config: Configuration) throws {
        self.config = config
        try FileManager.default.createDirectory(atPath: config.dataDir, withIntermediateDirectories: true)
        store = try Store(path: config.dataDir + "/" + Store.fileName)
        credentials = try Credentials(store: store, configuredPassword: config.adminPassword, configuredToken: config.apiToken)

        var router = Router()
        router.addHealthRoutes()
        let api = APIContext(store: store, credentials: credentials, config: config)
        router.addAPIRoutes(api)
        server = try HTTPServer(options: config.serverOptions, router: router)
    }

    /// Serves until SIGTERM or SIGINT; returns the exit code.
    func run() -> Int32 {
        let signals = [SIGTERM, SIGINT].map { sig -> DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [server] in
                Log.info("received signal \(sig): finishing in-flight requests")
                server.shutdown()
            }
            source.resume()
            return source
        }
        Log.info("slipway \(CommandLineParser.version) listening on http://\(config.host):\(server.port) (data in \(config.dataDir))")
        server.run()
        signals.forEach { $0.cancel() }
        Log.info("stopped")
        return 0
    }
}
