// swift-tools-version: 6.2
//
// lossd: a ZeroMQ pipeline stage that computes the SSD MultiBox loss with hard-negative mining.
// The module layout follows the data: pure math (SSDLoss) → wire format (LossWire) → transport
// (CZeroMQ, ZeroMQ) → the running pipeline (LossPipeline) → the command line (lossd).

import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "lossd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lossd", targets: ["lossd"]),
        .library(name: "SSDLoss", targets: ["SSDLoss"]),
        .library(name: "LossWire", targets: ["LossWire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // The SSD loss: no I/O, no dependencies; its vectorized passes are CLossKernels.
        .target(name: "SSDLoss", dependencies: ["CLossKernels"], swiftSettings: strict),
        // The loss's hot loops in C, compiled for baseline x86-64 and for AVX2 + FMA + F16C, the
        // copy chosen at run time (Swift cannot compile one function for two instruction sets).
        .target(name: "CLossKernels"),
        // Protocol v1 headers, result records and `.lossrec` recordings.
        .target(name: "LossWire", dependencies: ["SSDLoss"], swiftSettings: strict),
        // libzmq, found through pkg-config.
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        // A thin, safe Swift wrapper over libzmq: one socket, one owning thread.
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"], swiftSettings: strict),
        // Worker pool, replay, synthetic batches, benchmarks, sidecar, and the aggregator with
        // its HTTP endpoints (Hummingbird) and Prometheus exposition (swift-prometheus).
        .target(
            name: "LossPipeline",
            dependencies: [
                "SSDLoss", "LossWire", "ZeroMQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "lossd",
            dependencies: [
                "LossPipeline", "LossWire", "SSDLoss", "ZeroMQ",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        .testTarget(name: "SSDLossTests", dependencies: ["SSDLoss", "CLossKernels"], resources: [.copy("golden")], swiftSettings: strict),
        .testTarget(name: "LossWireTests", dependencies: ["LossWire", "SSDLoss"], swiftSettings: strict),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"], swiftSettings: strict),
        // Helpers two test targets share: an XML tree for the dashboard's SVG, a small HTTP GET.
        .target(name: "LossdTestSupport", dependencies: ["ZeroMQ"], path: "Tests/Support", swiftSettings: strict),
        .testTarget(name: "LossPipelineTests", dependencies: ["LossPipeline", "LossWire", "SSDLoss", "ZeroMQ", "LossdTestSupport"], swiftSettings: strict),
        .testTarget(name: "lossdTests", dependencies: ["LossWire", "SSDLoss", "ZeroMQ", "LossdTestSupport"], swiftSettings: strict),
    ]
)
