import Foundation
import Testing

@testable import VeloStorage

/// A fault-injecting HTTP proxy on loopback between velo's S3 client and SeaweedFS
/// (Tests/Fixtures/s3/fault_proxy.py, plain Python 3): every request is forwarded unless a rule of the current
/// plan fails it. Each test starts its own (tests run in parallel; the plan is the proxy's), and it ends when
/// the object is released or the test process exits (the proxy exits when its stdin closes).
final class FaultProxy: @unchecked Sendable {
    /// What a rule does to the requests it matches.
    enum Action: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case status500 = "status_500"
        case status503 = "status_503"
        case slowdown
        case stall
        case truncateBody = "truncate_body"
        case resetMidBody = "reset_mid_body"
        case resetBeforeResponse = "reset_before_response"
        case ignorePrecondition = "ignore_precondition"
        case notFound = "not_found"

        var testDescription: String { rawValue }
        /// A network or server fault (the others make the server look different, not fail).
        var isFault: Bool { self != .ignorePrecondition && self != .notFound }
    }

    /// One rule of a plan: which requests (all given criteria), what happens to them, how many times.
    struct Rule: Sendable {
        var method: String?
        /// A substring of the request target (path and query).
        var path: String?
        /// A substring the request target must not have.
        var excluding: String?
        /// A header the request must have (`range`).
        var header: String?
        var action: Action
        var times = 1
        /// Matching requests let through before the rule fires.
        var after = 0
        /// The request reaches the server first (its answer is then lost or replaced).
        var forward = false
        /// How long a stall lasts.
        var seconds = 4.0

        var json: [String: Any] {
            var rule: [String: Any] = ["action": action.rawValue, "times": times, "after": after, "forward": forward, "seconds": seconds]
            if let method { rule["method"] = method }
            if let path { rule["path_contains"] = path }
            if let excluding { rule["path_excludes"] = excluding }
            if let header { rule["header"] = header }
            return rule
        }
    }

    /// One request the proxy saw: `action` is `pass` when no rule fired, `status` the server's (nil when the
    /// request never reached it).
    struct Entry: Sendable, CustomStringConvertible {
        var method: String
        var target: String
        var action: String
        var status: Int?
        /// When it was answered (Unix seconds).
        var time: Double
        var description: String { "\(method) \(target) \(action) \(status.map(String.init) ?? "-")" }
    }

    let port: Int
    let upstreamPort: Int
    let directory: URL
    private let process: Process
    private let input: Pipe
    private var generation = 0
    private var stopped = false

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/s3/fault_proxy.py").path
    }

    /// A proxy in front of the S3 server on `upstreamPort`, or nil (said loudly in CI) without `python3`.
    static func start(upstreamPort: Int) throws -> FaultProxy? {
        guard let python = SeaweedFS.which("python3") else {
            #expect(ProcessInfo.processInfo.environment["CI"] == nil, "python3 is missing in CI: the S3 fault tests cannot run")
            print("skipped: python3 is not installed: the S3 fault-injection tests are not run")
            return nil
        }
        return try FaultProxy(python: python, upstreamPort: upstreamPort)
    }

    private init(python: String, upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        _ = Fixtures.removedAtExit  // the run's scratch folder, this proxy's plan and log with it
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "velo-tests-\(getpid())/fault-proxy-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data("[]".utf8).write(to: directory.appendingPathComponent("plan.json"))
        FileManager.default.createFile(atPath: directory.appendingPathComponent("log").path, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            Self.script, "http://127.0.0.1:\(upstreamPort)", directory.appendingPathComponent("plan.json").path,
            directory.appendingPathComponent("log").path,
        ]
        input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        let stderr = directory.appendingPathComponent("stderr").path
        FileManager.default.createFile(atPath: stderr, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: stderr)
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            line.append(chunk)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw ProxyFailure(description: "fault_proxy.py did not say its port (stdout: \(String(decoding: line, as: UTF8.self)))")
        }
        self.port = port
    }

    struct ProxyFailure: Error, CustomStringConvertible { var description: String }

    deinit { stop() }

    /// Stops the proxy (its process, by its own pid).
    func stop() {
        guard !stopped else { return }
        stopped = true
        try? input.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    /// The repository location `prefix` of the test bucket, through the proxy.
    func location(_ prefix: String) -> String { "s3:http://127.0.0.1:\(port)/\(SeaweedFS.bucket)/\(prefix)" }

    /// The same location, straight to the server (no faults).
    func directLocation(_ prefix: String) -> String { "s3:http://127.0.0.1:\(upstreamPort)/\(SeaweedFS.bucket)/\(prefix)" }

    /// Replaces the plan (a new generation: every rule's count starts again); no rules is no faults.
    func plan(_ rules: [Rule]) {
        generation += 1
        let json: [String: Any] = ["generation": generation, "rules": rules.map(\.json)]
        let data = try! JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        try! data.write(to: directory.appendingPathComponent("plan.json"), options: .atomic)
    }

    /// Every request the proxy has seen, in order.
    var entries: [Entry] {
        let text = (try? String(contentsOf: directory.appendingPathComponent("log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 5 else { return nil }
            return Entry(method: fields[0], target: fields[1], action: fields[2], status: Int(fields[3]), time: Double(fields[4]) ?? 0)
        }
    }

    /// The requests seen since the log had `start` entries.
    func entries(since start: Int) -> [Entry] { Array(entries.dropFirst(start)) }
}
