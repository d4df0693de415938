import Pipeline

extension Router {
    mutating func addAPIRoutes(_ api: APIContext) {
        get("/api/apps", api.authenticated { _ in
            .json(.array(try api.store.apps().map { AppJSON.encode($0, api: api, env: []) }))
        })
    }
}
