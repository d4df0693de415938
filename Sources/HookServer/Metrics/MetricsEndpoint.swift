import Edge
import FoundationEssentials
import Pipeline
import SlipwayCrypto
import SlipwayHTTP
import SlipwaySystem

/// `GET /metrics`: the Prometheus text format, for the API token or `--metrics-token` (a token
/// that can read the metrics and nothing else). Every label value is a name Slipway holds (apps,
/// statuses, steps, domains), so the series stay as many as those: never a path, a commit
/// message or a secret.
struct MetricsEndpoint: Sendable {
    let api: APIContext
    let metricsToken: String?

    /// The metrics token answers here; anything else goes through the API's authentication.
    func handler() -> Handler {
        let authenticated = api.authenticated { [self] _ in try respond() }
        return { [self] request in
            if let token = metricsToken, let given = request.headers["Authorization"],
               Crypto.constantTimeEqual(Array(given.utf8), Array("Bearer \(token)".utf8)) {
                return try respond()
            }
            return try authenticated(request)
        }
    }

    func respond() throws -> HTTPResponse {
        HTTPResponse(headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8"), ("Cache-Control", "no-store")],
                     body: .bytes(Array(try render().utf8)))
    }

    func render() throws -> String {
        var out = PrometheusText()
        let apps = try api.store.apps()

        out.family("slipway_apps", "gauge", "Apps by status.")
        for status in AppStatus.allCases {
            out.sample("slipway_apps", [("status", status.rawValue)], apps.count { $0.status == status })
        }

        out.family("slipway_deployments", "gauge", "Deployments in the history, by app and status.")
        for row in try api.store.deploymentCounts() {
            out.sample("slipway_deployments", [("app", row.app), ("status", row.status)], row.count)
        }

        let deployments = api.service.deploymentMetrics.snapshot()
        out.family("slipway_deployments_finished_total", "counter", "Deployments that ended since Slipway started, by app and status.")
        for (app, statuses) in deployments.finished.sorted(by: { $0.key < $1.key }) {
            for (status, count) in statuses.sorted(by: { $0.key < $1.key }) {
                out.sample("slipway_deployments_finished_total", [("app", app), ("status", status)], count)
            }
        }
        out.family("slipway_deployment_duration_seconds", "histogram", "How long deployments took, by how they ended.")
        for (status, histogram) in deployments.durations.sorted(by: { $0.key < $1.key }) {
            out.histogram("slipway_deployment_duration_seconds", [("status", status)], histogram)
        }
        out.family("slipway_deployment_step_duration_seconds", "histogram", "How long each step of a deployment took.")
        for (step, histogram) in deployments.steps.sorted(by: { $0.key < $1.key }) {
            out.histogram("slipway_deployment_step_duration_seconds", [("step", step)], histogram)
        }

        let queue = api.service.queue.counts
        out.family("slipway_build_queue", "gauge", "Deployments running, and waiting for their turn.")
        out.sample("slipway_build_queue", [("state", "running")], queue.running)
        out.sample("slipway_build_queue", [("state", "waiting")], queue.waiting)

        out.family("slipway_webhook_deliveries", "gauge", "Webhook deliveries in the kept history, by app and result.")
        for row in try api.store.deliveryCounts() {
            out.sample("slipway_webhook_deliveries", [("app", row.app), ("result", row.result)], row.count)
        }
        out.family("slipway_webhook_refused_total", "counter", "Deliveries refused for their signature or headers since Slipway started (never stored).")
        for app in apps {
            out.sample("slipway_webhook_refused_total", [("app", app.name)], api.rejectedDeliveries.summary(appID: app.id).count)
        }

        out.family("slipway_http_requests_total", "counter", "Requests through the HTTP and HTTPS edge since Slipway started, by app and status class.")
        var traffic: [(App, AccessCounters.Snapshot)] = []
        for app in apps { traffic.append((app, api.accessLogs.counters(appID: app.id))) }
        for (app, counters) in traffic {
            for statusClass in StatusClass.allCases {
                out.sample("slipway_http_requests_total", [("app", app.name), ("class", statusClass.rawValue)], counters.requests[statusClass] ?? 0)
            }
        }
        out.family("slipway_http_request_duration_seconds", "histogram", "How long requests through the edge took, by app.")
        for (app, _) in traffic {
            out.histogram("slipway_http_request_duration_seconds", [("app", app.name)], api.accessLogs.latency(appID: app.id))
        }
        out.family("slipway_http_upstream_errors_total", "counter", "Requests the edge could not get an answer for from the app (502, 504).")
        for (app, counters) in traffic { out.sample("slipway_http_upstream_errors_total", [("app", app.name)], counters.upstreamErrors) }
        out.family("slipway_http_bytes_total", "counter", "Bytes through the edge, by app and direction.")
        for (app, counters) in traffic {
            out.sample("slipway_http_bytes_total", [("app", app.name), ("direction", "in")], counters.bytesIn)
            out.sample("slipway_http_bytes_total", [("app", app.name), ("direction", "out")], counters.bytesOut)
        }

        // An app's own port relays TCP and reads no HTTP: its connections are counted, by what
        // became of them, since the port was opened.
        out.family("slipway_app_port_connections_total", "counter", "Connections to the apps' own ports, by app and result (relayed, or answered 503: unavailable, limit).")
        var ports: [(App, PortForwarder)] = []
        for app in apps { if let forwarder = api.service.forwarders.forwarder(for: app.id) { ports.append((app, forwarder)) } }
        for (app, forwarder) in ports {
            let counts = forwarder.connectionCounts
            out.sample("slipway_app_port_connections_total", [("app", app.name), ("result", "relayed")], counts.relayed)
            out.sample("slipway_app_port_connections_total", [("app", app.name), ("result", "unavailable")], counts.unavailable)
            out.sample("slipway_app_port_connections_total", [("app", app.name), ("result", "limit")], counts.atLimit)
        }
        out.family("slipway_app_port_open_connections", "gauge", "Connections the apps' own ports relay now.")
        for (app, forwarder) in ports { out.sample("slipway_app_port_open_connections", [("app", app.name)], forwarder.openConnections) }

        out.family("slipway_certificate_expiry_timestamp_seconds", "gauge", "When each domain's certificate ends (Unix time).")
        for app in apps {
            for summary in api.certificates.summaries(for: app.domains.map(\.value)) where summary.notAfter > 0 {
                out.sample("slipway_certificate_expiry_timestamp_seconds", [("app", app.name), ("domain", summary.domain)], summary.notAfter)
            }
        }

        let process = ProcessStats.read()
        out.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
        out.sample("process_resident_memory_bytes", [], process.residentBytes)
        out.family("process_open_fds", "gauge", "Open file descriptors.")
        out.sample("process_open_fds", [], process.openDescriptors)
        out.family("process_threads", "gauge", "Threads of the process.")
        out.sample("process_threads", [], process.threads)
        out.family("process_start_time_seconds", "gauge", "When the process started (Unix time).")
        out.sample("process_start_time_seconds", [], ProcessStats.started.rounded())
        return out.text
    }
}
