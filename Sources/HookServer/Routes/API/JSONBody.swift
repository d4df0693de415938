import Pipeline
import SlipwayHTTP
import SlipwaySystem

/// Reads a JSON object body field by field, refusing fields it does not know, so a typo such
/// as "brnach" is an error instead of being silently ignored.
struct JSONBody {
    private let pairs: [(String, JSON)]
    private var seen = Set<String>()

    init(_ request: HTTPRequest, allowEmpty: Bool = true) throws {
        if let type = request.headers["Content-Type"], !request.body.isEmpty,
           !type.lowercased().hasPrefix("application/json") {
            throw HTTPError(415, "the body must be JSON sent with Content-Type: application/json")
        }
        if request.body.isEmpty || request.body.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) {
            guard allowEmpty else { throw HTTPError.badRequest("a JSON object body is required") }
            pairs = []
            return
        }
        let value: JSON
        do { value = try JSONParser.parse(request.body) } catch { throw HTTPError.badRequest("the body is not valid JSON: \(error.message) at byte \(error.offset)") }
        guard let object = value.objectValue else { throw HTTPError.badRequest("the body must be a JSON object") }
        pairs = object
    }

    private mutating func value(_ key: String) -> JSON? {
        seen.insert(key)
        guard let v = pairs.last(where: { $0.0 == key })?.1 else { return nil }
        if case .null = v { return nil }
        return v
    }

    func has(_ key: String) -> Bool { pairs.contains { $0.0 == key } }

    mutating func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.stringValue else { throw ValidationError(key, "\(key) must be a string") }
        return s
    }

    mutating func int(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let n = v.intValue else { throw ValidationError(key, "\(key) must be an integer") }
        return n
    }

    mutating func double(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let n = v.numberValue else { throw ValidationError(key, "\(key) must be a number") }
        return n
    }

    mutating func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.boolValue else { throw ValidationError(key, "\(key) must be true or false") }
        return b
    }

    /// A size in bytes: an integer, or a string as the size flags take it ("512k", "10m", "2g").
    mutating func byteSize(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        if let n = v.intValue { return n }
        guard let text = v.stringValue else {
            throw ValidationError(key, "\(key) must be an integer number of bytes, or a string such as \"10m\"")
        }
        return try AppValidation.byteSize(text, field: key)
    }

    /// ["a", "b", ...]
    mutating func stringList(_ key: String) throws -> [String]? {
        guard let v = value(key) else { return nil }
        guard case .array(let items) = v else { throw ValidationError(key, "\(key) must be an array of strings") }
        return try items.map { item in
            guard let s = item.stringValue else { throw ValidationError(key, "\(key) must be an array of strings") }
            return s
        }
    }

    /// [{"name": "data", "path": "/app/data"}, ...]: an app's volumes, their fields checked here
    /// for shape only (`AppValidation.volumes` checks the values).
    mutating func volumes(_ key: String) throws -> [AppVolume]? {
        guard let v = value(key) else { return nil }
        let shape = "\(key) must be an array of objects such as {\"name\": \"data\", \"path\": \"/app/data\"}"
        guard case .array(let items) = v else { throw ValidationError(key, shape) }
        return try items.map { item in
            guard let fields = item.objectValue, let name = item["name"]?.stringValue, let path = item["path"]?.stringValue else {
                throw ValidationError(key, shape)
            }
            if let other = fields.first(where: { $0.0 != "name" && $0.0 != "path" }) {
                throw ValidationError(key, "\(key): unknown field '\(other.0)' in a volume (a volume has a name and a path)")
            }
            return AppVolume(name: name, path: path)
        }
    }

    /// {"NAME": "value", ...}
    mutating func stringMap(_ key: String) throws -> [(String, String)]? {
        guard let v = value(key) else { return nil }
        guard let object = v.objectValue else { throw ValidationError(key, "\(key) must be an object of strings") }
        return try object.map { name, value in
            guard let s = value.stringValue else { throw ValidationError(key, "\(key): the value of \(name) must be a string") }
            return (name, s)
        }
    }

    /// A write-only secret: absent keeps it, null clears it, a string sets it.
    mutating func secretChange(_ key: String) throws -> SecretChange {
        guard has(key) else {
            seen.insert(key)
            return .keep
        }
        return try string(key).map(SecretChange.set) ?? .clear
    }

    /// Call after reading every known field.
    func rejectUnknown() throws {
        if let unknown = pairs.first(where: { !seen.contains($0.0) }) {
            throw ValidationError(unknown.0, "unknown field '\(unknown.0)'")
        }
    }
}
