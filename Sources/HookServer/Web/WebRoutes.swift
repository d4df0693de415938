import SlipwayHTTP

extension Router {
    /// The dashboard: pages to read, the login, and the forms that change things. Errors here
    /// are text (or a redirect to the login); the handlers are the types beside this file.
    /// Every route is behind the host guard (421 for other host names, HSTS over https).
    mutating func addWebRoutes(_ web: WebContext) {
        let host = web.hostGuard
        let pages = DashboardPages(web: web)
        get("/static/{file}", host.wrap(pages.staticFile))
        get("/", host.wrap(pages.apps))
        get("/deploy", host.wrap(pages.deployForm))
        get("/apps/{name}", host.wrap(pages.app))
        get("/apps/{name}/logs", host.wrap(pages.runtimeLogs))
        get("/deployments/{id}", host.wrap(pages.deployment))
        get("/deployments/{id}/log", host.wrap(pages.deploymentLog))

        let login = LoginPages(web: web)
        get("/login", host.wrap(login.show))
        post("/login", host.wrap(login.logIn))
        post("/logout", host.wrap(login.logOut))

        let actions = AppActions(web: web)
        post("/deploy", host.wrap(actions.deploy))
        post("/deployments/{id}/cancel", host.wrap(actions.cancel))
        post("/apps/{name}/redeploy", host.wrap(actions.redeploy))
        post("/apps/{name}/rollback", host.wrap(actions.rollback))
        for control in AppActions.Control.allCases {
            post("/apps/{name}/\(control.rawValue)", host.wrap { try actions.perform(control, $0) })
        }
        post("/apps/{name}/delete", host.wrap(actions.delete))
        let notifications = NotificationPages(web: web)
        post("/apps/{name}/notifications", host.wrap(notifications.addToApp))
        post("/apps/{name}/notifications/{id}/remove", host.wrap(notifications.removeFromApp))
        post("/apps/{name}/notifications/{id}/test", host.wrap(notifications.testForApp))
        get("/settings", host.wrap(notifications.settingsPage))
        post("/settings/notifications", host.wrap(notifications.addServerWide))
        post("/settings/notifications/{id}/remove", host.wrap(notifications.removeServerWide))
        post("/settings/notifications/{id}/test", host.wrap(notifications.testServerWide))
        let volumes = VolumesPage(web: web)
        get("/volumes", host.wrap(volumes.show))
        post("/volumes/{volume}/delete", host.wrap(volumes.delete))
        post("/apps/{name}/settings", host.wrap(actions.settings))
        post("/apps/{name}/env", host.wrap(actions.env))
        post("/apps/{name}/webhook-secret", host.wrap(actions.rotateWebhookSecret))
        post("/apps/{name}/credentials", host.wrap(actions.credentials))
        post("/apps/{name}/certificates", host.wrap(actions.uploadCertificate))
        post("/apps/{name}/certificates/remove", host.wrap(actions.removeCertificate))
    }
}
