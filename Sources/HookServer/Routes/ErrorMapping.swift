import Pipeline
import SlipwayHTTP

// Domain errors carry their own HTTP meaning here, in the one place that knows about HTTP.

extension ValidationError: HTTPResponseError {
    public var status: Int { 400 }
    public var code: String { "invalid_\(field)" }
}

extension StoreError: HTTPResponseError {
    public var status: Int {
        if case .appGone = self { return 404 }
        return 409
    }
    public var code: String {
        if case .appGone = self { return "not_found" }
        return "conflict"
    }
    public var message: String { description }
}

extension PortAllocator.Exhausted: HTTPResponseError {
    public var status: Int { 409 }
    public var code: String { "no_free_port" }
    public var message: String { description }
}

extension AppConflict: HTTPResponseError {
    public var status: Int { 409 }
    public var code: String { "conflict" }
    public var message: String { description }
}

extension ServerError: HTTPResponseError {
    public var status: Int {
        if case .notFound = self { return 404 }
        return 409
    }
    public var code: String {
        if case .notFound = self { return "not_found" }
        return "conflict"
    }
    public var message: String { description }
}
