import Pipeline

// Domain errors carry their own HTTP meaning here, in the one place that knows about HTTP.

extension ValidationError: HTTPResponseError {
    var status: Int { 400 }
    var code: String { "invalid_\(field)" }
}

extension StoreError: HTTPResponseError {
    var status: Int {
        if case .appGone = self { return 404 }
        return 409
    }
    var code: String {
        if case .appGone = self { return "not_found" }
        return "conflict"
    }
    var message: String { description }
}

extension PortAllocator.Exhausted: HTTPResponseError {
    var status: Int { 409 }
    var code: String { "no_free_port" }
    var message: String { description }
}

extension AppService.RollbackImpossible: HTTPResponseError {
    var status: Int { 409 }
    var code: String { "conflict" }
}
