// swift-tools-version: 6.1
//
// Micro-benchmarks of lossd's hot paths with ordo-one/benchmark. A package of its own, so that the
// main build and its tests never fetch or compile the benchmark framework:
//
//   cd Benchmarks && swift package benchmark
//
// `lossd bench` (the main package) measures the SPEC's end-to-end targets; these measure the
// pieces (header decoding, mining-heavy and ordinary kernel calls) with allocation and
// instruction counts, for spotting regressions.

import PackageDescription

let package = Package(
    name: "LossBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "lossd", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "LossBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SSDLoss", package: "lossd"),
                .product(name: "LossWire", package: "lossd"),
                .product(name: "LossSynthesis", package: "lossd"),
            ],
            path: "Benchmarks/LossBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
