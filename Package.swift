// swift-tools-version: 6.2
import PackageDescription

// Floors, bottom up (each target imports only targets below it):
//   1  CLibPQ, CSystemd, CSQLite,  system-library shims
//      CSocket, CProcess
//   1  DroverCore                  pure: manifest, revisions, planning, scheduling
//   2  DroverPostgres              libpq on dedicated threads
//   2  DroverProtocol              the io.drover.Fleet varlink interface, framing
//   3  DroverRunner                one database through one phase
//   4  DroverDaemon                state store, scheduler loop, observer, executor
//   5  DroverControl               the varlink server: socket, peer credentials, limits
//   6  droverd, droverctl          thin executables
//   -  DroverTestSupport           throwaway PostgreSQL clusters for tests
// Failpoints and the movable test clock exist in debug builds (the tests run those);
// a release droverd has neither, nor the environment variables that set them.
let testHooks: [SwiftSetting] = [.define("DROVER_TEST_HOOKS", .when(configuration: .debug))]

let package = Package(
    name: "drover",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "droverd", targets: ["droverd"]),
        .executable(name: "droverctl", targets: ["droverctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .systemLibrary(name: "CSocket"),
        .systemLibrary(name: "CProcess"),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "DroverCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "DroverProtocol",
            dependencies: ["DroverCore"],
            resources: [.embedInCode("io.drover.Fleet.varlink"), .embedInCode("org.varlink.service.varlink")]
        ),
        .target(
            name: "DroverPostgres",
            dependencies: [
                "CLibPQ",
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: testHooks
        ),
        .target(
            name: "DroverRunner",
            dependencies: [
                "CProcess",
                "DroverCore",
                "DroverPostgres",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: testHooks
        ),
        .target(
            name: "DroverDaemon",
            dependencies: [
                "CProcess",
                "CSQLite",
                "CSystemd",
                "DroverCore",
                "DroverPostgres",
                "DroverProtocol",
                "DroverRunner",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: testHooks
        ),
        .target(
            name: "DroverControl",
            dependencies: [
                "CSocket",
                "CSystemd",
                "DroverCore",
                "DroverDaemon",
                "DroverProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "DroverTestSupport",
            dependencies: ["DroverPostgres"]
        ),
        .executableTarget(
            name: "droverd",
            dependencies: [
                "DroverControl",
                "DroverCore",
                "DroverDaemon",
                "DroverProtocol",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "droverctl",
            dependencies: [
                "DroverCore",
                "DroverPostgres",
                "DroverProtocol",
                "DroverRunner",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // scripts/bench's protocol and server helpers (not installed).
        .executableTarget(
            name: "drover-bench",
            dependencies: [
                "DroverProtocol",
                "DroverTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "DroverCoreTests",
            dependencies: ["DroverCore", "DroverTestSupport"]
        ),
        .testTarget(
            name: "DroverProtocolTests",
            dependencies: ["DroverProtocol", "DroverTestSupport"]
        ),
        .testTarget(
            name: "DroverControlTests",
            dependencies: ["DroverControl", "DroverCore", "DroverDaemon", "DroverProtocol", "DroverTestSupport", "droverd", "droverctl"]
        ),
        .testTarget(
            name: "DroverPostgresTests",
            dependencies: ["DroverPostgres", "DroverTestSupport"]
        ),
        .testTarget(
            name: "DroverRunnerTests",
            dependencies: ["DroverCore", "DroverRunner", "DroverPostgres", "DroverTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "DroverDaemonTests",
            dependencies: ["DroverCore", "DroverDaemon", "DroverProtocol", "DroverRunner", "DroverTestSupport", "droverd"]
        ),
        .testTarget(
            name: "DroverCLITests",
            dependencies: ["DroverCore", "DroverTestSupport", "droverctl"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
