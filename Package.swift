// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Velo",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "VeloKit", targets: ["VeloKit"]),
        .executable(name: "velo", targets: ["velo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"4.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        .systemLibrary(
            name: "CArchive",
            pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"]), .brew(["libarchive"])]
        ),
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]
        ),
        .target(
            name: "VeloKit",
            dependencies: [
                "CSQLite", "CArchive", "CZstd",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: [
                // The data path's buffers are classes touched per byte; a profile showed dynamic exclusivity
                // checks costing about 5% of a restore. Debug builds (and so the tests) keep them.
                .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
            ]
        ),
        .executableTarget(
            name: "velo",
            dependencies: [
                "VeloKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "VeloKitTests", dependencies: ["VeloKit", "CArchive"]),
        .testTarget(name: "veloTests", dependencies: ["velo", "VeloKit", "CZstd"]),
    ]
)
