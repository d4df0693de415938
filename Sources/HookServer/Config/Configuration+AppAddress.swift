import Pipeline

extension Configuration {
    /// Where `app` is reached from outside on this server: its apps host and app ports, and its
    /// domains only when the HTTP edge serves them (`AppAddress`).
    func address(of app: App) -> AppAddress {
        AppAddress(app, appsHost: effectiveAppsHost, portsServed: appPorts != nil, edgePort: httpPort)
    }
}
