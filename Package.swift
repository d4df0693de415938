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
        // Declarations of the Linux calls Glibc's Swift module hides (accept4, pipe2, eventfd).
        .systemLibrary(name: "CSystem", path: "Sources/CSystem"),
        // A safe Swift face over libcrypto, so no OpenSSL type leaks past it.
        .target(name: "SlipwayCrypto", dependencies: ["CCrypto"]),
        .target(name: "Pipeline", dependencies: ["CSQLite", "CSystem", "SlipwayCrypto"]),
        .executableTarget(name: "HookServer", dependencies: ["Pipeline", "CSystem", "SlipwayCrypto"]),
        .testTarget(name: "SlipwayCryptoTests", dependencies: ["SlipwayCrypto"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline"]),
        .testTarget(name: "HookServerTests", dependencies: ["HookServer", "Pipeline"]),
    ],
    swiftLanguageModes: [.v6]
)
