import SlipwayHTTP
import SlipwaySystem
import SlipwayTLS

/// The command-line client's calls to a Slipway server's API: Slipway's own outbound client
/// (`HTTPSClient`, plain HTTP allowed for a server on a private network or loopback).
struct APIClient {
    let config: ClientConfig

    /// The server could not be reached, or refused the token: exit code 3.
    struct Unreachable: Error { let message: String }
    /// The server answered with an error: its message, exit code 1.
    struct Refused: Error { let status: Int; let message: String }

    func call(_ method: String, _ path: String, _ body: JSON? = nil) throws -> JSON {
        let bytes = try raw(method, path, body)
        return (try? JSONParser.parse(bytes)) ?? .null
    }

    func raw(_ method: String, _ path: String, _ body: JSON? = nil) throws -> [UInt8] {
        var client = HTTPSClient(trust: .system)
        client.allowsPlainHTTP = true
        client.timeoutMilliseconds = 30_000
        client.maxResponseBytes = 16 << 20
        var headers = [("Authorization", "Bearer \(config.token)"), ("Accept", "application/json")]
        let payload = body.map { Array($0.serialized().utf8) } ?? []
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let response: HTTPSClient.Response
        do {
            response = try client.send(method, config.url + path, headers: headers, body: payload)
        } catch {
            throw Unreachable(message: "cannot reach \(config.url): \(error.reason)")
        }
        if response.status == 401 { throw Unreachable(message: "\(config.url) refused the token (401); run slipway login again") }
        guard response.status < 400 else {
            let message = (try? JSONParser.parse(response.body))?["error"]?["message"]?.stringValue
                ?? String(decoding: response.body.prefix(300), as: UTF8.self)
            throw Refused(status: response.status, message: message)
        }
        return response.body
    }
}
