import XCTest
@testable import Pipeline

/// What the certificates of an app's domains say, beside the ones installed: the ACME orders'
/// status for the others, asked on every app page and API answer.
final class UploadedCertificatesTests: XCTestCase {
    func testTheOrdersStatusIsAskedForDomainsWithoutACertificateEvenAfterManyReads() throws {
        let certificates = try UploadedCertificates(dataDir: nil)
        certificates.reportOrders { domain in
            domain == "a.test" ? CertificateSummary(domain: domain, status: .pending, issuer: "", notAfter: 0, source: "acme") : nil
        }
        XCTAssertEqual(certificates.summaries(for: ["b.test"]), [])
        // Each read once wrapped the stored closure in another conversion thunk, and the server
        // crashed (a stack overflow) after a couple of minutes of a page polling it.
        for _ in 0..<100_000 { _ = certificates.summaries(for: ["a.test"]) }
        XCTAssertEqual(certificates.summaries(for: ["a.test", "b.test"]).map(\.status), [.pending])
    }
}
