// swift-tools-version:6.0
// A package that depends on VeloKit by path and uses only its public API: proof that VeloKit can be a dependency
// (no unsafe build flags) and that its public surface is enough to back up, verify, plan and restore.
import PackageDescription

let package = Package(
    name: "BackupFromSwift",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Velo", path: "../..")
    ],
    targets: [
        .target(name: "BackupFromSwift", dependencies: [.product(name: "VeloKit", package: "Velo")]),
        .testTarget(name: "BackupFromSwiftTests", dependencies: ["BackupFromSwift"]),
    ]
)
