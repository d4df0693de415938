import SlipwayHTTP
import SlipwayTLS

/// How the ACME client reaches its CA: one HTTPS request at a time. `HTTPSClient` in production;
/// the tests answer with a CA of their own making.
public protocol ACMETransport: Sendable {
    func send(_ method: String, _ url: String, headers: [(String, String)], body: [UInt8]) throws -> HTTPSClient.Response
}

extension HTTPSClient: ACMETransport {}
