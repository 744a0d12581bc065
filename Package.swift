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
        // Only SHA-256 and MD5 are used, which both majors have: resolve beside packages that need either.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // `swift package generate-documentation --target VeloKit` (DocC); nothing is built from it otherwise.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
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
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "velo",
            dependencies: [
                "VeloKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "VeloKitTests", dependencies: ["VeloKit", "CArchive"]),
        .testTarget(name: "veloTests", dependencies: ["velo", "VeloKit", "CZstd"]),
    ]
)
