import Pipeline
import SlipwayHTTP

extension Router {
    /// The JSON API under /api, every route behind the bearer token. The handlers are the
    /// small types beside this file; this is only the map from method and path to them.
    mutating func addAPIRoutes(_ api: APIContext) {
        answerErrorsAsJSON(under: "/api")
        get("/metrics", MetricsEndpoint(api: api, metricsToken: api.config.metricsToken).handler())
        let apps = AppsAPI(api: api)
        get("/api/apps", api.authenticated(apps.list))
        post("/api/apps", api.authenticated(apps.create))
        get("/api/apps/{name}", api.authenticated(apps.show))
        patch("/api/apps/{name}", api.authenticated(apps.update))
        delete("/api/apps/{name}", api.authenticated(apps.delete))

        let deployments = DeploymentsAPI(api: api)
        post("/api/apps/{name}/deployments", api.authenticated(deployments.deploy))
        post("/api/apps/{name}/redeploy", api.authenticated(deployments.redeploy))
        post("/api/apps/{name}/rollback", api.authenticated(deployments.rollback))
        get("/api/apps/{name}/deployments", api.authenticated(deployments.history))
        get("/api/deployments/{id}", api.authenticated(deployments.show))
        get("/api/deployments/{id}/log", api.authenticated(deployments.log))
        post("/api/deployments/{id}/cancel", api.authenticated(deployments.cancel))

        let control = AppControlAPI(api: api)
        for action in AppControlAPI.Action.allCases {
            post("/api/apps/{name}/\(action.rawValue)", api.authenticated { try control.perform(action, $0) })
        }
        get("/api/apps/{name}/logs", api.authenticated(control.runtimeLogs))
        get("/api/apps/{name}/deliveries", api.authenticated(control.deliveries))
        get("/api/apps/{name}/requests", api.authenticated(RequestsAPI(api: api).recent))

        let certificates = CertificatesAPI(api: api)
        get("/api/apps/{name}/certificates", api.authenticated(certificates.list))
        put("/api/apps/{name}/certificates/{domain}", api.authenticated(certificates.upload))
        delete("/api/apps/{name}/certificates/{domain}", api.authenticated(certificates.remove))

        get("/api/apps/{name}/changes", api.authenticated(ChangesAPI(api: api).list))
        patch("/api/apps/{name}/env", api.authenticated(EnvAPI(api: api).change))
        let notifications = NotificationsAPI(api: api)
        get("/api/apps/{name}/notifications", api.authenticated(notifications.list))
        post("/api/apps/{name}/notifications", api.authenticated(notifications.add))
        delete("/api/apps/{name}/notifications/{id}", api.authenticated(notifications.remove))
        post("/api/apps/{name}/notifications/{id}/test", api.authenticated(notifications.test))
        get("/api/settings/notifications", api.authenticated(notifications.listServerWide))
        put("/api/settings/notifications", api.authenticated(notifications.replaceServerWide))
        post("/api/settings/notifications/{id}/test", api.authenticated(notifications.testServerWide))

        let volumes = VolumesAPI(api: api)
        get("/api/volumes", api.authenticated(volumes.list))
        delete("/api/volumes/{volume}", api.authenticated(volumes.delete))

        let secrets = AppSecretsAPI(api: api)
        post("/api/apps/{name}/webhook-secret", api.authenticated(secrets.rotateWebhookSecret))
        post("/api/apps/{name}/deploy-key", api.authenticated(secrets.createDeployKey))
        get("/api/apps/{name}/deploy-key", api.authenticated(secrets.showDeployKey))
        delete("/api/apps/{name}/deploy-key", api.authenticated(secrets.deleteDeployKey))
    }
}
