import Pipeline
import SlipwaySystem

/// Turns apps and deployments into what templates show.
enum PageModel {
    static func app(_ a: App, config: Configuration, live: Deployment?, busy: Bool) -> TemplateValue {
        let address = config.address(of: a)
        let status = busy && a.status != .deploying ? "deploying" : a.status.rawValue
        // An exact name links to the app there, on the edge's port; a wildcard names no one host
        // to open, and without the edge no name leads anywhere.
        let domains: [TemplateValue] = a.domains.map { domain in
            .object(["name": .string(domain.value), "href": .string(address.link(to: domain) ?? "")])
        }
        // As the field takes it ("10m"); blank for the server's, which the field shows greyed.
        let bodyLimit: String = a.maxRequestBody.map { ByteSize.text($0) } ?? ""
        let volumes: [TemplateValue] = a.volumes.map { volume in
            .object(["name": .string(volume.name), "path": .string(volume.path),
                     "docker_name": .string(AppVolume.dockerName(app: a.name, volume: volume.name))])
        }
        let stopTimeout: String = a.stopTimeout.map { String($0) } ?? ""
        let memory: String = a.memoryMB.map { String($0) } ?? ""
        let cpus: String = a.cpus.map { String($0) } ?? ""
        let liveValue: TemplateValue = live.map { deployment($0, liveID: a.liveDeploymentID) } ?? .bool(false)
        return .object([
            "name": .string(a.name),
            "repo_url": .string(a.repoURL),
            "repo_linkable": .bool(HTML.isLinkable(a.repoURL)),
            "branch": .string(a.branch),
            "server": .string(a.server),
            "port": .string(address.port.map(String.init) ?? "no port"),
            // Empty without a port and an exact domain; the pages then say so.
            "url": .string(address.url ?? ""),
            "domains": .list(domains),
            "has_domains": .bool(!domains.isEmpty),
            "volumes": .list(volumes),
            "has_volumes": .bool(!volumes.isEmpty),
            "status": .string(status),
            "status_label": .string(label(status)),
            "is_stopped": .bool(a.status == .stopped),
            "has_live": .bool(a.liveDeploymentID != nil),
            "internal_port": .string(String(a.internalPort)),
            "health_path": .string(a.healthPath),
            "memory_mb": .string(memory),
            "cpus": .string(cpus),
            "max_request_body": .string(bodyLimit),
            "default_max_request_body": .string(ByteSize.text(config.maxRequestBody)),
            "https_redirect": .bool(a.httpsRedirect),
            "hsts": .bool(a.hsts),
            "init": .bool(a.initProcess),
            "stop_timeout": .string(stopTimeout),
            "default_stop_timeout": .string(String(PipelineSettings.defaultStopGraceSeconds)),
            "live": liveValue,
            "created_at": .string(a.createdAt),
            "has_git_token": .bool(a.gitToken != nil),
            "has_github_token": .bool(a.githubToken != nil),
            "deploy_key": .string(a.deployKeyPublic ?? ""),
        ])
    }

    static func deployment(_ d: Deployment, liveID: Int?, canRollback: Bool = false) -> TemplateValue {
        .object([
            "id": .string(String(d.id)),
            "status": .string(d.status.rawValue),
            "status_label": .string(label(d.status.rawValue)),
            "trigger": .string(d.trigger.rawValue),
            "sha": .string(d.commitSHA ?? ""),
            "short_sha": .string(String((d.commitSHA ?? "").prefix(7))),
            "subject": .string(d.commitMessage ?? ""),
            "author": .string(d.commitAuthor ?? ""),
            "error": .string(d.error ?? ""),
            "created_at": .string(d.createdAt),
            "started_at": .string(d.startedAt ?? ""),
            "duration": .string(d.durationMilliseconds.map(duration) ?? ""),
            "is_live": .bool(d.id == liveID),
            "finished": .bool(d.status.isFinished),
            "running": .bool(!d.status.isFinished),
            "can_rollback": .bool(canRollback),
            "source": .string(d.sourceDeploymentID.map(String.init) ?? ""),
            "steps": .list(d.steps.map { .object(["name": .string($0.name), "duration": .string(duration($0.milliseconds))]) }),
        ])
    }

    static func duration(_ ms: Int) -> String {
        ms < 1000 ? "\(ms) ms" : ms < 60_000 ? String(Double(ms) / 1000, fractionDigits: 1) + " s" : "\(ms / 60_000) min \(ms % 60_000 / 1000) s"
    }

    static func label(_ status: String) -> String {
        switch status {
        case "running": return "Running"
        case "stopped": return "Stopped"
        case "crashed": return "Crashed"
        case "failed": return "Failed"
        case "deploying": return "Deploying"
        case "new": return "New"
        case "unknown": return "Unknown (its server cannot be reached)"
        default: return status.prefix(1).uppercased() + status.dropFirst()
        }
    }
}
