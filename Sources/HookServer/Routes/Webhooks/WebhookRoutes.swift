import SlipwayHTTP

extension Router {
    mutating func addWebhookRoutes(_ handler: WebhookHandler) {
        answerErrorsAsJSON(under: "/hooks")
        post("/hooks/github/{app}", bodyLimit: handler.bodyLimit, headCheck: { try handler.checkHead($0) }) { request in try handler.handle(request) }
    }
}
