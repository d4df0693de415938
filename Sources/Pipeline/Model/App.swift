/// A deployed application: a repository and branch served on a stable public port, at its
/// domains, or both.
public struct App: Sendable, Equatable {
    public var id: Int
    public var name: String
    public var repoURL: String
    public var branch: String
    /// The public port, kept for the app's life; nil for an app made under `--app-ports off`.
    public var port: Int?
    public var internalPort: Int
    public var healthPath: String
    public var memoryMB: Int?
    public var cpus: Double?
    /// The largest request body the HTTP edge passes to the app; nil: the server's
    /// `--max-request-body`.
    public var maxRequestBody: Int?
    /// Plain HTTP requests to a domain with a certificate are redirected to HTTPS (the default);
    /// false keeps plain HTTP served.
    public var httpsRedirect = true
    /// The HTTPS edge sends Strict-Transport-Security with the app's answers (opt-in).
    public var hsts = false
    /// Containers run with an init process as PID 1 (`docker run --init`), which passes SIGTERM
    /// on and reaps zombies; an app whose own PID 1 does both may opt out.
    public var initProcess = true
    /// Seconds a stopping container gets between SIGTERM and SIGKILL; nil: the server's.
    public var stopTimeout: Int?
    public var webhookSecret: String
    public var status: AppStatus
    public var liveDeploymentID: Int?
    public var createdAt: String
    /// An HTTPS token for a private repository; never shown or logged.
    public var gitToken: String?
    /// The public half of the app's SSH deploy key, when it has one.
    public var deployKeyPublic: String?
    /// A GitHub token for posting commit statuses; never shown or logged.
    public var githubToken: String?
    /// The host names the app is served at, in the order the user gave them.
    public var domains: [DomainName] = []
    /// Named volumes mounted in every container of the app, in the order the user gave them.
    public var volumes: [AppVolume] = []
    /// The server its next deployment builds and runs on (`local`, or one of /api/servers). Its
    /// live container is on the live deployment's server, which differs while it moves.
    public var server: String = Server.localName

    public static let defaultInternalPort = 5000
    public static let defaultHealthPath = "/"
    public static let defaultBranch = "main"
}

/// The settings a user gives when creating an app or editing it.
public struct AppSettings: Sendable, Equatable {
    public var repoURL: String
    public var branch: String = App.defaultBranch
    public var internalPort: Int = App.defaultInternalPort
    public var healthPath: String = App.defaultHealthPath
    public var memoryMB: Int?
    public var cpus: Double?
    public var maxRequestBody: Int?
    public var httpsRedirect = true
    public var hsts = false
    public var initProcess = true
    public var stopTimeout: Int?
    public var server: String = Server.localName

    public init(repoURL: String, branch: String = App.defaultBranch, internalPort: Int = App.defaultInternalPort,
                healthPath: String = App.defaultHealthPath, memoryMB: Int? = nil, cpus: Double? = nil, maxRequestBody: Int? = nil,
                httpsRedirect: Bool = true, hsts: Bool = false, initProcess: Bool = true, stopTimeout: Int? = nil,
                server: String = Server.localName) {
        self.server = server
        self.repoURL = repoURL
        self.branch = branch
        self.internalPort = internalPort
        self.healthPath = healthPath
        self.memoryMB = memoryMB
        self.cpus = cpus
        self.maxRequestBody = maxRequestBody
        self.httpsRedirect = httpsRedirect
        self.hsts = hsts
        self.initProcess = initProcess
        self.stopTimeout = stopTimeout
    }

    /// The settings an app has now, as the base of an edit.
    public init(of app: App) {
        self.init(repoURL: app.repoURL, branch: app.branch, internalPort: app.internalPort, healthPath: app.healthPath,
                  memoryMB: app.memoryMB, cpus: app.cpus, maxRequestBody: app.maxRequestBody, httpsRedirect: app.httpsRedirect,
                  hsts: app.hsts, initProcess: app.initProcess, stopTimeout: app.stopTimeout, server: app.server)
    }
}

/// What an edit does to a stored secret (a git or GitHub token): write-only values are never
/// read back, so "leave it" has to be said apart from "remove it".
public enum SecretChange: Sendable, Equatable {
    case keep
    case set(String)
    case clear
}
