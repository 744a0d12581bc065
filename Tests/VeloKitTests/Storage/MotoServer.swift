import Foundation
import Synchronization
import Testing

@testable import VeloStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A second S3 implementation for the tests: moto's server (`pip install 'moto[server]'`, Python), with IAM
/// enforcement on. moto checks nothing until told to: `INITIAL_NO_AUTH_ACTION_COUNT=8` lets exactly its first eight
/// actions through unauthenticated, and Tests/Fixtures/s3/moto_identity.py spends them creating a user, a
/// managed policy allowing `s3:*` (and nothing else), its attachment and the user's access key, then the same for a
/// second user whose policy also denies `s3:ListBucket`. Every request after those is checked, signature and
/// policy: the script makes the bucket with the first user's key and shows that a wrong secret, an unknown access
/// key, an IAM action outside the policy and the second user's listing are each refused, or the server is not used.
///
/// `shared` is moto run by `moto_identity.py serve`, which corrects one thing in moto's signature check: moto
/// rebuilds the canonical query from a decoded URL, so it refuses every correctly signed request with a `/` in a
/// query value (each of velo's listings: `prefix=<prefix>%2Fcatalog%2F`), whoever signs it (getmoto/moto#5948;
/// MotoStorageTests pins it on `unpatched`, moto exactly as installed, started only for that test).
///
/// Started once per test process on a free loopback port chosen from the pid (a range of its own, clear of
/// SeaweedFS's), stopped when the process exits (and exiting by itself when the process is gone without that: a
/// crash). `startup` says why there is no server: moto or boto3 not installed (outside CI the tests say so and
/// pass), or a server that would not start or does not enforce (a failure).
final class MotoServer: Sendable {
    static let bucket = "velo-tests"
    /// moto's unauthenticated actions, all spent by moto_identity.py.
    static let noAuthActions = 8

    let port: Int
    let accessKey: String
    let secretKey: String
    /// The user who may do everything in S3 but list a bucket.
    let noListAccessKey: String
    let noListSecretKey: String
    let directory: String

    enum Startup: Sendable {
        case running(MotoServer)
        /// moto (or Python, or boto3) is not installed.
        case missing(String)
        /// moto is installed but could not be started with IAM enforcement.
        case failed(String)
    }

    /// The server of this test process, started at first use: moto with its canonical query corrected.
    static let startup: Startup = MotoServer.start(patched: true)

    /// moto exactly as installed (`moto_identity.py serve --as-installed`: no correction), for the test that pins
    /// what the correction is for.
    static let unpatched: Startup = MotoServer.start(patched: false)

    static var shared: MotoServer? {
        if case .running(let server) = startup { return server }
        return nil
    }

    /// The IAM user's credentials, as the environment S3Storage reads.
    var environment: [String: String] {
        [
            "AWS_ACCESS_KEY_ID": accessKey, "AWS_SECRET_ACCESS_KEY": secretKey, "AWS_REGION": "us-east-1", "HOME": NSTemporaryDirectory(),
            "XDG_CACHE_HOME": Fixtures.cacheHome,
        ]
    }

    /// The credentials of the user denied `s3:ListBucket`.
    var noListEnvironment: [String: String] {
        environment.merging(["AWS_ACCESS_KEY_ID": noListAccessKey, "AWS_SECRET_ACCESS_KEY": noListSecretKey]) { $1 }
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// A repository location of its own under the test bucket.
    func location(_ name: String) -> String {
        "s3:\(endpoint)/\(Self.bucket)/\(name.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8))"
    }

    private init(port: Int, identity: [String: String], directory: String) {
        self.port = port
        accessKey = identity["access_key"]!
        secretKey = identity["secret_key"]!
        noListAccessKey = identity["no_list_access_key"]!
        noListSecretKey = identity["no_list_secret_key"]!
        self.directory = directory
    }

    /// The servers this process started, killed when it exits.
    static let pids = Mutex<[Int32]>([])
    static let killedAtExit: Void = { atexit { for pid in MotoServer.pids.withLock({ $0 }) { kill(pid, SIGKILL) } } }()

    private static func start(patched: Bool) -> Startup {
        guard SeaweedFS.which("moto_server") != nil else { return .missing("moto is not installed (pip install 'moto[server]')") }
        guard let python = SeaweedFS.which("python3") else { return .missing("python3 is not installed") }
        guard run(python, ["-c", "import boto3, flask, moto.server"]).status == 0 else {
            return .missing("moto's server or boto3 is not importable by python3 (pip install 'moto[server]')")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("velo-tests-\(getpid())/moto").path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/s3/moto_identity.py").path
        // Ports 40000-44999, from the pid (the unpatched server's 2,500 further on); the next one when taken
        // (SeaweedFS uses 20000-37999).
        var port = 40_000 + (Int(getpid() % 5_000) + (patched ? 0 : 2_500)) % 5_000
        var problems: [String] = []
        for _ in 0..<5 {
            while !isFree(port) { port = 40_000 + (port - 40_000 + 1) % 5_000 }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [script, "serve", String(port)] + (patched ? [] : ["--as-installed"])
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
            environment["INITIAL_NO_AUTH_ACTION_COUNT"] = String(noAuthActions)
            process.environment = environment
            let logPath = "\(directory)/log-\(patched ? "patched" : "unpatched")-\(port)"
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            let log = FileHandle(forWritingAtPath: logPath)!
            process.standardOutput = log
            process.standardError = log
            do { try process.run() } catch { return .failed("moto_server did not start: \(error)") }
            _ = killedAtExit
            pids.withLock { $0.append(process.processIdentifier) }
            // Ready when it accepts connections (a bare connection is no action: the unauthenticated ones are kept).
            let deadline = Date().addingTimeInterval(60)
            while process.isRunning && !accepts(port) && Date() < deadline { usleep(200_000) }
            guard process.isRunning, accepts(port) else {
                kill(process.processIdentifier, SIGKILL)
                let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                problems.append("port \(port): moto_server did not listen: \(text.suffix(500))")
                port = 40_000 + (port - 40_000 + 1) % 5_000
                continue
            }
            let identity = run(python, [script, "identity", "http://127.0.0.1:\(port)", bucket])
            guard identity.status == 0,
                let json = try? JSONSerialization.jsonObject(with: Data(identity.output.utf8)) as? [String: String],
                ["access_key", "secret_key", "no_list_access_key", "no_list_secret_key"].allSatisfy({ json[$0] != nil })
            else {
                kill(process.processIdentifier, SIGKILL)
                return .failed("moto_identity.py: \(identity.error.suffix(1_000))\(identity.output)")
            }
            return .running(MotoServer(port: port, identity: json, directory: directory))
        }
        return .failed(problems.joined(separator: "\n"))
    }

    /// Runs a tool to its end: its exit status, standard output and standard error (written aside to a file, so
    /// that neither pipe can fill while the other is read).
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, in folder: String? = nil
    ) -> (
        status: Int32, output: String, error: String
    ) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
        let errorPath = FileManager.default.temporaryDirectory.appendingPathComponent("velo-run-\(getpid())-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errorPath) }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        do { try process.run() } catch { return (-1, "", "\(executable): \(error)") }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let error = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        return (process.terminationStatus, String(decoding: data, as: UTF8.self), error)
    }

    /// Whether nothing listens on (or holds) the loopback port.
    static func isFree(_ port: Int) -> Bool {
        withSocket(port) { fd, address, length in bind(fd, address, length) == 0 }
    }

    /// Whether a server accepts connections on the loopback port.
    static func accepts(_ port: Int) -> Bool {
        withSocket(port) { fd, address, length in connect(fd, address, length) == 0 }
    }

    private static func withSocket(_ port: Int, _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Bool) -> Bool {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}
