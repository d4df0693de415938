import SlipwayHTTP

extension Router {
    mutating func addWebhookRoutes(_ handler: WebhookHandler) {
        answerErrorsAsJSON(under: "/hooks")
        post("/hooks/github/{app}", bodyLimit: handler.bodyLimit, headCheck: handler.checkHead) { request in try handler.handle(request) }
    }
}
