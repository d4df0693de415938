extension Router {
    mutating func addHealthRoutes() {
        get("/healthz") { _ in .text("ok") }
    }
}
