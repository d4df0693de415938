// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Slipway",
    products: [
        .executable(name: "slipway", targets: ["HookServer"]),
    ],
    targets: [
        // System libraries: the only C code we use, reached through module maps.
        .systemLibrary(name: "CCrypto", path: "Sources/CCrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // libssl, for TLS on the edge (and the libcrypto X.509 and PEM calls it needs).
        .systemLibrary(name: "CTLS", path: "Sources/CTLS", providers: [.apt(["libssl-dev"])]),
        // Declarations of the Linux calls Glibc's Swift module hides (accept4, pipe2, eventfd).
        .systemLibrary(name: "CSystem", path: "Sources/CSystem"),
        // A safe Swift face over libcrypto, so no OpenSSL type leaks past it.
        .target(name: "SlipwayCrypto", dependencies: ["CCrypto"]),
        // The platform layer that every other target stands on: threads, files, locks, sockets,
        // epoll, the clock, logging and JSON. It knows nothing of apps or HTTP.
        .target(name: "SlipwaySystem", dependencies: ["CSystem"]),
        // TLS and certificates over libssl: keys, chains, the edge's TLS policy and SNI choice,
        // non-blocking sessions. A target of its own so that no OpenSSL type leaks past it.
        .target(name: "SlipwayTLS", dependencies: ["CTLS", "CSystem", "SlipwayHTTP", "SlipwaySystem", "SlipwayCrypto"]),
        // The client side of ACME (RFC 8555): directory, nonces, account, orders, challenges,
        // finalization. Its own target: the certificate manager drives it, the tests fake its CA.
        .target(name: "ACME", dependencies: ["SlipwayTLS", "SlipwayHTTP", "SlipwaySystem"]),
        // HTTP/1.1 messages: the request parser and its limits, framing, the response encoder.
        // Pure functions of bytes, shared by the server and the fuzzer (and, next, the HTTP edge).
        .target(name: "SlipwayHTTP", dependencies: ["SlipwaySystem"]),
        // The HTTP/1.1 server on POSIX sockets: the accept loop, the epoll worker pool and the
        // connection. What it serves comes through one seam, `RequestDispatcher`: the dashboard
        // buffers bodies and answers from handlers, the HTTP edge streams them to the apps.
        .target(name: "SlipwayServer", dependencies: ["SlipwayHTTP", "SlipwaySystem", "SlipwayTLS", "CSystem"]),
        // What stands in front of the apps: the TCP port forwarder and its relay workers, and the
        // HTTP edge. A target of its own so that only their faces are public.
        .target(name: "Edge", dependencies: ["SlipwayServer", "SlipwayHTTP", "SlipwaySystem", "SlipwayTLS", "CSystem"]),
        .target(name: "Pipeline", dependencies: ["CSQLite", "CSystem", "SlipwaySystem", "SlipwayCrypto", "SlipwayTLS", "ACME", "Edge"]),
        .executableTarget(name: "HookServer", dependencies: ["Pipeline", "Edge", "SlipwayServer", "SlipwayHTTP", "SlipwaySystem", "CSystem", "SlipwayCrypto", "SlipwayTLS"]),
        // libFuzzer over the request parser and the JSON parser (`make fuzz`); in other builds it
        // replays the inputs it is given.
        .executableTarget(name: "HTTPFuzzer", dependencies: ["SlipwayHTTP", "SlipwaySystem"], path: "Fuzz/HTTPFuzzer"),
        // Fakes of the container engine and git, and an AppService over them: shared by the
        // pipeline's tests and the server's socketless route tests.
        .target(name: "PipelineTestSupport", dependencies: ["Pipeline", "SlipwaySystem"], path: "Tests/PipelineTestSupport"),
        .testTarget(name: "SlipwayCryptoTests", dependencies: ["SlipwayCrypto"]),
        .testTarget(name: "SlipwaySystemTests", dependencies: ["SlipwaySystem"]),
        .testTarget(name: "SlipwayTLSTests", dependencies: ["SlipwayTLS", "CTLS", "SlipwaySystem"]),
        .testTarget(name: "ACMETests", dependencies: ["ACME", "SlipwayTLS", "SlipwayHTTP", "SlipwaySystem"]),
        .testTarget(name: "SlipwayHTTPTests", dependencies: ["SlipwayHTTP", "SlipwaySystem"]),
        .testTarget(name: "SlipwayServerTests", dependencies: ["SlipwayServer", "SlipwayHTTP", "SlipwaySystem", "SlipwayTLS", "CTLS"]),
        .testTarget(name: "EdgeTests", dependencies: ["Edge", "SlipwayServer", "SlipwayHTTP", "SlipwaySystem"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "PipelineTestSupport", "SlipwaySystem", "Edge"]),
        .testTarget(name: "HookServerTests", dependencies: ["HookServer", "Edge", "Pipeline", "PipelineTestSupport", "SlipwayServer", "SlipwayHTTP", "SlipwaySystem"]),
    ],
    swiftLanguageModes: [.v6]
)
