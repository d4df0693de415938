import SlipwayHTTP

extension Router {
    /// The dashboard: pages to read, the login, and the forms that change things. Errors here
    /// are text (or a redirect to the login); the handlers are the types beside this file.
    mutating func addWebRoutes(_ web: WebContext) {
        let pages = DashboardPages(web: web)
        get("/static/{file}", pages.staticFile)
        get("/", pages.apps)
        get("/deploy", pages.deployForm)
        get("/apps/{name}", pages.app)
        get("/apps/{name}/logs", pages.runtimeLogs)
        get("/deployments/{id}", pages.deployment)
        get("/deployments/{id}/log", pages.deploymentLog)

        let login = LoginPages(web: web)
        get("/login", login.show)
        post("/login", login.logIn)
        post("/logout", login.logOut)

        let actions = AppActions(web: web)
        post("/deploy", actions.deploy)
        post("/deployments/{id}/cancel", actions.cancel)
        post("/apps/{name}/redeploy", actions.redeploy)
        post("/apps/{name}/rollback", actions.rollback)
        for control in AppActions.Control.allCases {
            post("/apps/{name}/\(control.rawValue)") { try actions.perform(control, $0) }
        }
        post("/apps/{name}/delete", actions.delete)
        post("/apps/{name}/settings", actions.settings)
        post("/apps/{name}/env", actions.env)
        post("/apps/{name}/webhook-secret", actions.rotateWebhookSecret)
        post("/apps/{name}/credentials", actions.credentials)
    }
}
