// swift-tools-version: 6.2
//
// lossd: a ZeroMQ pipeline stage that computes the SSD MultiBox loss with hard-negative mining.
//
// The module graph is the design; each arrow below is a dependency SwiftPM enforces:
//
//   SSDLoss ─► LossWire ─┬──────────────► LossSynthesis
//                        └─┐
//   CZeroMQ ─► ZeroMQ ─────┴─► LossPipeline ─► LossAggregator ─► lossd
//                                                  ▲ (Hummingbird, Prometheus)
//   Checksums ─► TensorBoardEvents (swift-protobuf) ┘
//   LossBench: SSDLoss, LossWire, LossSynthesis, LossPipeline, LossAggregator
//
// docs/ARCHITECTURE.md draws the same graph and follows one batch through it.

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
        .library(name: "Checksums", targets: ["Checksums"]),
        .library(name: "LossSynthesis", targets: ["LossSynthesis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // The SSD MultiBox loss of one batch (SPEC §1): no I/O. It reads the tensors in place as
        // little-endian bytes and owns the layout table (which tensors a layout has, in which order,
        // and how many bytes each takes); its vectorized passes are CLossKernels.
        .target(name: "SSDLoss", dependencies: ["CLossKernels"], swiftSettings: strict),
        // The loss's hot loops in C, compiled for baseline x86-64 and for AVX2 + FMA + F16C, the
        // copy chosen at run time (Swift cannot compile one function for two instruction sets).
        .target(name: "CLossKernels"),
        // CRC-32C with the CPU's instruction, chosen at run time: C, because only C can enable an
        // instruction set for one function (Sources/CCRC32C/crc32c.c says more).
        .target(name: "CCRC32C"),
        // Checksums for files: CRC-32C (recordings v2, TFRecord) and the zlib CRC-32 (recordings v1).
        .target(name: "Checksums", dependencies: ["CCRC32C"], swiftSettings: strict),
        // Protocol v1 (SPEC §2–§4): batch headers, result records and `.lossrec` recordings, and
        // the per-batch function `BatchProcessor` (decode → compute → record) that every way of
        // running lossd, and the fuzzers, call. No sockets, no threads, no Foundation.
        .target(name: "LossWire", dependencies: ["SSDLoss", "Checksums"], swiftSettings: strict),
        // libzmq, found through pkg-config.
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        // A thin, safe Swift wrapper over libzmq: one socket, one owning OS thread
        // (`SocketThread`), and `Latch`, the one primitive that threads and tasks wait on.
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"], swiftSettings: strict),
        // Realistic synthetic SSD batches whose loss falls with the step, deterministic in their
        // seed: for `lossd synth`, the demo, the benchmarks (both packages) and tests.
        .target(name: "LossSynthesis", dependencies: ["SSDLoss", "LossWire"], swiftSettings: strict),
        // The sidecar path: the ordered worker pool, record outputs, settings (flags, LOSSD_*
        // variables, YAML), CURVE keys, the sidecar and its service, and replay. It serves no
        // HTTP and exports no metrics, so it depends on neither Hummingbird nor Prometheus.
        .target(
            name: "LossPipeline",
            dependencies: [
                "SSDLoss", "LossWire", "ZeroMQ", "Checksums",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),
        // TensorBoard event files: TFRecord framing (masked CRC-32C from Checksums) around Event
        // protocol buffers encoded with swift-protobuf. The Swift code generated from the trimmed
        // TensorFlow .proto files in Protos/ is committed in Generated/ (Protos/README.md says how
        // to regenerate it), so building needs no protoc.
        .target(
            name: "TensorBoardEvents",
            dependencies: [
                "Checksums",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            exclude: ["Protos"],
            swiftSettings: strict
        ),
        // The aggregation daemon: running statistics of every (run, split), (run, source, stream)
        // and step, the state file and snapshots, the HTTP endpoints (Hummingbird; TLS through
        // swift-nio-ssl and basic authentication with bcrypt hashes, configured by a Prometheus
        // exporter web configuration file read with Yams), the Prometheus exposition
        // (swift-prometheus), TensorBoard event files and the dashboard, live and as `lossd report`
        // files.
        .target(
            name: "LossAggregator",
            dependencies: [
                "LossWire", "ZeroMQ", "LossPipeline", "TensorBoardEvents",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        // `lossd bench`: each SPEC §7 target timed against a floor measured in the same run (the
        // kernel against a read of its bytes, the sidecar against a bare PUSH → PULL, the
        // aggregator's ingest rate).
        .target(
            name: "LossBench",
            dependencies: [
                "SSDLoss", "LossWire", "ZeroMQ", "LossSynthesis", "LossPipeline", "LossAggregator",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The command line: one subcommand per way of running lossd, the wiring of `serve` (a
        // sidecar and an aggregator in one process) and `demo`, and the process lifecycle (one
        // place that handles signals).
        .executableTarget(
            name: "lossd",
            dependencies: [
                "SSDLoss", "LossWire", "ZeroMQ", "LossSynthesis", "LossPipeline", "LossAggregator", "LossBench",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        .testTarget(
            name: "SSDLossTests", dependencies: ["SSDLoss", "CLossKernels"], resources: [.copy("golden")],
            swiftSettings: strict),
        .testTarget(name: "ChecksumsTests", dependencies: ["Checksums"], swiftSettings: strict),
        .testTarget(
            name: "TensorBoardEventsTests", dependencies: ["TensorBoardEvents", "Checksums"], swiftSettings: strict),
        .testTarget(
            name: "LossWireTests", dependencies: ["LossWire", "SSDLoss", "Checksums", "LossdTestSupport"],
            swiftSettings: strict),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"], swiftSettings: strict),
        .testTarget(
            name: "LossSynthesisTests", dependencies: ["LossSynthesis", "LossWire", "SSDLoss"], swiftSettings: strict),
        // Helpers several test targets share: an XML tree for the dashboard's SVG, a small HTTP GET,
        // a temporary folder.
        .target(name: "LossdTestSupport", dependencies: ["ZeroMQ"], path: "Tests/Support", swiftSettings: strict),
        .testTarget(
            name: "LossPipelineTests",
            dependencies: [
                "LossPipeline", "LossWire", "SSDLoss", "ZeroMQ", "LossdTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "LossAggregatorTests",
            dependencies: [
                "LossAggregator", "LossPipeline", "LossWire", "SSDLoss", "ZeroMQ", "LossdTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "LossBenchTests", dependencies: ["LossBench"], swiftSettings: strict),
        .testTarget(
            name: "lossdTests", dependencies: ["LossWire", "SSDLoss", "ZeroMQ", "LossdTestSupport"],
            swiftSettings: strict),
    ]
)
