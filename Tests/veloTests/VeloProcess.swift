import Foundation

/// Runs the built `velo` binary, as a person or a cron job would.
enum VeloProcess {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// stdout as bytes, for output that is not text (`velo cat --file`).
        var stdoutData = Data()
    }

    /// The `velo` executable next to the test bundle (or `$VELO_BIN`).
    static let executable: URL = {
        if let path = ProcessInfo.processInfo.environment["VELO_BIN"] { return URL(fileURLWithPath: path) }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("velo")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/velo")
    }()

    static func run(_ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        return try collect(process, environment: environment)
    }

    /// Runs `process` with this environment (less VELO_DB and VELO_REPO, plus `environment`) and no stdin, and
    /// collects its output. Both pipes are read while it runs, so a large output cannot block it.
    /// Runs another program (`executable` with `arguments`) to its end.
    static func runTool(_ executable: String, _ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        return try collect(process, environment: [:])
    }

    static func collect(_ process: Process, environment: [String: String]) throws -> Result {
        var env = ProcessInfo.processInfo.environment
        env["VELO_DB"] = nil
        env["VELO_REPO"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes while the process runs so a large output cannot block it.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        group.enter()
        DispatchQueue.global().async {
            outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave()
        }
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self),
            stdoutData: outData)
    }
}

extension VeloProcess {
    /// Runs velo under GNU time (Debian's `time` package, which .ci/run installs) and also returns its peak
    /// resident memory in MiB. getrusage from this process would not do: a child spawned from a large test
    /// process inherits that process's high-water mark across exec.
    static func runMeasured(_ arguments: [String], environment: [String: String] = [:]) throws -> (result: Result, peakMiB: Double) {
        let time = "/usr/bin/time"
        guard FileManager.default.isExecutableFile(atPath: time) else {
            throw POSIXError(.ENOENT, userInfo: [NSLocalizedDescriptionKey: "\(time) is missing: apt-get install time"])
        }
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("velo-peak-\(getpid())-\(UUID().uuidString.prefix(8))")
            .path
        defer { unlink(report) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: time)
        process.arguments = ["-f", "%M", "-o", report, executable.path] + arguments
        let result = try collect(process, environment: environment)
        let kib = (try? String(contentsOfFile: report, encoding: .utf8))?.split(separator: "\n").last.flatMap { Double($0) } ?? -1
        return (result, kib / 1024)
    }
}

/// Scratch space and inspection helpers shared by the end-to-end tests.
enum Scratch {
    /// The run's scratch folder (`velo-cli-<pid>`, which every command test writes under) is removed when the
    /// test process exits, unless VELO_KEEP_TEST_FILES is set (to look at what a failed test left).
    static let removedAtExit: Void = {
        atexit {
            guard getenv("VELO_KEEP_TEST_FILES") == nil else { return }
            try? FileManager.default.removeItem(at: FileManager.default.temporaryDirectory.appendingPathComponent("velo-cli-\(getpid())"))
        }
    }()

    /// A new empty directory named after the calling test.
    static func directory(_ name: String = #function) -> URL {
        _ = removedAtExit
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "velo-cli-\(getpid())/\(name.filter(\.isLetter))-\(UUID().uuidString.prefix(6))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// What `sqlite3 PATH SQL` prints (a change, or a query's rows), trimmed.
    @discardableResult
    static func sqlite(_ path: String, _ sql: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", path, sql]
        return try VeloProcess.collect(process, environment: [:]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `sqlite3 PATH .dump`, the reference for "the same logical content".
    static func dump(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", path, ".dump"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
