// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Velo",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "VeloKit", targets: ["VeloKit"]),
        .executable(name: "velo", targets: ["velo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // SHA-256, MD5, HMAC, and AES-CBC/GCM (`_CryptoExtras`, to read a tenant's S3 secret Laravel encrypted),
        // which both majors have: resolve beside packages that need either.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // `swift package generate-documentation --target VeloKit` (DocC); nothing is built from it otherwise.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // `velo serve`. No traits: swift-configuration and URL-encoded forms are not used, and are not built.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        // Only its bcrypt target (a small C library) is built, for Laravel's `$2y$` password hashes.
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        // Hummingbird's own dependency: NIOThreadPool, the bounded pool `velo serve` runs blocking work on.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // The HTTP client of S3 repositories (VeloStorage's S3Storage); SigV4 is velo's own (S3RequestSigner).
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // async-http-client's TLS, named so that an S3 server with a private CA can be trusted (AWS_CA_BUNDLE).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // Hummingbird's own dependency, named so the server can trigger its graceful shutdown itself.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
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
        // The layers, each depending only on those above it here (the compiler keeps them so):
        // format (SQLite, archives, JSON, support) -> storage (where objects live) -> repository (catalog, locks,
        // the pieces of incremental snapshots and their readers) -> operations (VeloKit) -> the CLI and the server.
        .target(
            name: "VeloFormat",
            dependencies: [
                "CSQLite", "CArchive", "CZstd",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "VeloStorage",
            dependencies: [
                // `_CryptoExtras`: scrypt, which derives the keys of an encrypted repository's key files.
                "VeloFormat", .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(
            name: "VeloRepository",
            dependencies: ["VeloFormat", "VeloStorage", "CZstd", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "VeloKit",
            dependencies: [
                "VeloFormat", "VeloStorage", "VeloRepository",
                "CSQLite", "CArchive", "CZstd",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "VeloServer",
            dependencies: [
                "VeloKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "velo",
            dependencies: [
                "VeloKit",
                "VeloServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "VeloKitTests", dependencies: ["VeloKit", "CArchive"]),
        .testTarget(
            name: "veloTests", dependencies: ["velo", "VeloKit", "VeloServer", "CZstd", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "VeloServerTests", dependencies: ["VeloServer", "VeloKit", .product(name: "Crypto", package: "swift-crypto")]),
    ]
)
