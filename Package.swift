// swift-tools-version: 6.1
import PackageDescription

/// One set of settings for every target: Swift 6 language mode (strict concurrency) everywhere.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "dlsweep",
    products: [
        .executable(name: "dlsweep", targets: ["dlsweep"]),
        .library(name: "TrainingCore", targets: ["TrainingCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        // The live view's HTTP server: small, no SwiftNIO, builds in seconds.
        .package(url: "https://github.com/swhitty/FlyingFox", exact: "0.27.1"),
    ],
    targets: [
        // MARK: C libraries
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]),
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(
            name: "CGLPK",
            providers: [.apt(["libglpk-dev"])]),

        /// Thin-operand kernels of the reduced step (AVX2+FMA when the CPU has it), always optimized:
        /// the test suite runs them in debug builds too.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),

        // MARK: Numerics (knows nothing of networking)
        /// Always optimized too: a matrix's element accessors (MatrixStorage) are this module's own
        /// code, 15 times slower unoptimized than an Array's, and the tests train in debug builds.
        .target(
            name: "LinearAlgebra", dependencies: ["CBLAS", "CKernels"],
            swiftSettings: swiftSettings + [.unsafeFlags(["-O"])]),
        .target(name: "NumPyFiles", dependencies: ["LinearAlgebra"], swiftSettings: swiftSettings),
        .target(name: "LinearProgram", dependencies: ["CGLPK"], swiftSettings: swiftSettings),
        .target(name: "TrainingCore", dependencies: ["LinearAlgebra", "NumPyFiles", "LinearProgram"], swiftSettings: swiftSettings),

        // MARK: Distribution
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"], swiftSettings: swiftSettings),
        .target(name: "SweepConfig", dependencies: ["TrainingCore", "Yams"], swiftSettings: swiftSettings),
        .target(name: "SweepProtocol", dependencies: ["TrainingCore"], exclude: ["PROTOCOL.md"], swiftSettings: swiftSettings),
        .target(
            name: "ResultsStore",
            dependencies: ["SweepConfig", "TrainingCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings),
        .target(name: "SweepTable", dependencies: ["ResultsStore", "SweepConfig"], swiftSettings: swiftSettings),
        .target(
            name: "Coordinator",
            dependencies: [
                "ZeroMQ", "SweepProtocol", "SweepConfig", "ResultsStore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "Worker",
            dependencies: [
                "ZeroMQ", "SweepProtocol", "TrainingCore", "LinearAlgebra",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        /// The live view: the report and /status.json over HTTP while a sweep runs (read-only).
        .target(
            name: "LiveView",
            dependencies: ["SweepTable", "ResultsStore", "SweepConfig", .product(name: "FlyingFox", package: "FlyingFox")],
            swiftSettings: swiftSettings),

        // MARK: The command line (only wires things together)
        .executableTarget(
            name: "dlsweep",
            dependencies: [
                "TrainingCore", "NumPyFiles", "LinearAlgebra", "SweepConfig", "ResultsStore", "SweepTable",
                "Coordinator", "Worker", "ZeroMQ", "SweepProtocol", "LiveView",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Tests
        .testTarget(
            name: "LinearAlgebraTests",
            dependencies: ["LinearAlgebra", "CKernels", .product(name: "Numerics", package: "swift-numerics")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "LinearProgramTests",
            dependencies: ["LinearProgram", .product(name: "Numerics", package: "swift-numerics")],
            swiftSettings: swiftSettings),
        .testTarget(name: "NumPyFilesTests", dependencies: ["NumPyFiles", "LinearAlgebra"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TrainingCoreTests",
            dependencies: ["TrainingCore", "LinearAlgebra", "NumPyFiles", .product(name: "Numerics", package: "swift-numerics")],
            swiftSettings: swiftSettings),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"], swiftSettings: swiftSettings),
        .testTarget(name: "SweepProtocolTests", dependencies: ["SweepProtocol", "SweepConfig", "TrainingCore"], swiftSettings: swiftSettings),
        .testTarget(name: "LiveViewTests", dependencies: ["LiveView"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CoordinatorTests",
            dependencies: ["Coordinator", "SweepProtocol", "SweepConfig", "ResultsStore", "TrainingCore",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "WorkerTests",
            dependencies: ["Worker", "SweepProtocol", "TrainingCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings),
        .testTarget(name: "SweepConfigTests", dependencies: ["SweepConfig", "TrainingCore"], swiftSettings: swiftSettings),
        .testTarget(name: "ResultsStoreTests", dependencies: ["ResultsStore", "SweepConfig", "TrainingCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SweepTableTests", dependencies: ["SweepTable", "ResultsStore", "SweepConfig", "TrainingCore"],
            exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "EndToEndTests", dependencies: ["dlsweep", "ResultsStore", "SweepTable", "ZeroMQ", "SweepProtocol", "TrainingCore", "NumPyFiles", "LinearAlgebra"],
                    exclude: ["Support/lying_worker.py"], swiftSettings: swiftSettings),
    ]
)
