import Edge
/// The deployment pipeline's configuration, from the command line.
public struct PipelineSettings: Sendable {
    public var dataDir: String
    /// Where app ports listen (the server's --host).
    public var bindHost: String
    /// The range app ports are taken from; nil for `--app-ports off`, where apps get no port and
    /// no forwarder, and the HTTP edge is their only way in.
    public var appPorts: ClosedRange<Int>?
    public var allowLocalRepos: Bool
    public var maxBuilds: Int
    public var keepImages: Int
    public var buildTimeoutSeconds: Double
    public var healthTimeoutSeconds: Double
    public var drainSeconds: Double
    /// Graceful stop for containers before docker kills them.
    public var stopGraceSeconds: Int = PipelineSettings.defaultStopGraceSeconds
    /// Docker's own default, which an app's `stop_timeout` replaces.
    public static let defaultStopGraceSeconds = 10
    /// Labels added to every container and image, besides Slipway's own.
    public var extraLabels: [(String, String)]
    /// Tells this server's containers from another Slipway's on the same engine.
    public var instanceID: String
    public var supervisorIntervalSeconds: Double = 2
    /// Open connections per app port.
    public var maxAppConnections = PortForwarder.defaultMaximumConnections
    /// The dashboard's own host names, which no app may have as a domain: an app served at one
    /// would receive the dashboard's session cookie.
    public var dashboardHostNames: Set<String> = []

    public init(dataDir: String, bindHost: String, appPorts: ClosedRange<Int>?, allowLocalRepos: Bool, maxBuilds: Int,
                keepImages: Int, buildTimeoutSeconds: Double, healthTimeoutSeconds: Double, drainSeconds: Double,
                extraLabels: [(String, String)], instanceID: String) {
        self.dataDir = dataDir
        self.bindHost = bindHost
        self.appPorts = appPorts
        self.allowLocalRepos = allowLocalRepos
        self.maxBuilds = maxBuilds
        self.keepImages = keepImages
        self.buildTimeoutSeconds = buildTimeoutSeconds
        self.healthTimeoutSeconds = healthTimeoutSeconds
        self.drainSeconds = drainSeconds
        self.extraLabels = extraLabels
        self.instanceID = instanceID
    }

    public var reposDir: String { dataDir + "/repos" }
    public var logsDir: String { dataDir + "/logs" }
    public var buildsDir: String { dataDir + "/builds" }

    public func logPath(deploymentID: Int) -> String { logsDir + "/deployment-\(deploymentID).log" }
}

/// Names and labels of what Slipway creates in Docker.
public enum Naming {
    public static let managedLabel = "slipway.managed"
    public static let instanceLabel = "slipway.instance"
    public static let appLabel = "slipway.app"
    public static let deploymentLabel = "slipway.deployment"

    public static func image(app: String, deployment: Int) -> String { "slipway/\(app):\(deployment)" }
    public static func container(app: String, deployment: Int) -> String { "slipway-\(app)-\(deployment)" }

    public static func labels(app: String, deployment: Int, settings: PipelineSettings) -> [(String, String)] {
        [(managedLabel, "true"), (instanceLabel, settings.instanceID), (appLabel, app), (deploymentLabel, String(deployment))]
            + settings.extraLabels
    }

    /// A volume belongs to the app, not to one deployment of it.
    public static func volumeLabels(app: String, settings: PipelineSettings) -> [(String, String)] {
        [(managedLabel, "true"), (instanceLabel, settings.instanceID), (appLabel, app)] + settings.extraLabels
    }

    /// What a new container of the app is made from, but for its name, image and labels: the
    /// app's volumes, limits, init process and stop timeout.
    public static func containerSpec(of app: App, name: String, image: String, deployment: Int, envNames: [String],
                                     settings: PipelineSettings) -> ContainerSpec {
        var spec = ContainerSpec(name: name, image: image, labels: labels(app: app.name, deployment: deployment, settings: settings),
                                 envNames: envNames, internalPort: app.internalPort, memoryMB: app.memoryMB, cpus: app.cpus)
        spec.mounts = mounts(of: app, settings: settings)
        spec.initProcess = app.initProcess
        spec.stopTimeout = app.stopTimeout
        return spec
    }

    /// The seconds a stopping container of the app gets: its own setting, else the server's.
    public static func stopGrace(of app: App, settings: PipelineSettings) -> Int {
        app.stopTimeout ?? settings.stopGraceSeconds
    }

    /// The mounts of the app's volumes in a new container, each volume made first if need be.
    public static func mounts(of app: App, settings: PipelineSettings) -> [VolumeMount] {
        app.volumes.map { VolumeMount(source: AppVolume.dockerName(app: app.name, volume: $0.name), target: $0.path,
                                      labels: volumeLabels(app: app.name, settings: settings)) }
    }
}
