import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloServer

/// `velo serve`'s backups page in a real browser: Debian's headless Chromium, driven through selenium by
/// Tests/Fixtures/browser/backups_page.py, against a real `velo serve --landlord` on loopback over a repository of
/// three tenants, one of them stale, signed in as a superuser of the operator tenant. Skipped, saying why, where
/// Chromium, its driver or selenium is missing (`.ci/run` installs them). Screenshots of each page go to
/// `.build/test-artifacts/backups-page/`.
@Suite struct BackupsPageBrowserTests {
    static let chromium = ProcessInfo.processInfo.environment["VELO_CHROMIUM"] ?? "/usr/bin/chromium"
    static let driver = ProcessInfo.processInfo.environment["VELO_CHROMEDRIVER"] ?? "/usr/bin/chromedriver"

    /// Why the browser test cannot run here, or nil.
    static var missing: String? {
        for tool in [chromium, driver] where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) is not installed (Debian: apt-get install chromium chromium-driver)"
        }
        let selenium = try? VeloProcess.runTool("/usr/bin/env", ["python3", "-c", "import selenium"])
        if selenium?.status != 0 { return "selenium is not installed (pip install selenium)" }
        return nil
    }

    @Test func anOperatorSeesBacksUpVerifiesPlansRestoresAndPrunes() throws {
        if let missing = Self.missing {
            print("skipped: the backups page's browser test needs Chromium and selenium: \(missing)")
            return
        }
        let dir = Scratch.directory()
        let repo = dir.appendingPathComponent("repo").path
        let served = dir.appendingPathComponent("a.sqlite").path
        for (name, seed) in [("a", UInt64(1)), ("b", 2), ("c", 3)] {
            try DemoDatabase(options: .init(posts: 300, seed: seed)).write(to: dir.appendingPathComponent("\(name).sqlite").path)
        }
        try Database(path: served, mode: .readWrite).prepare("UPDATE superusers SET password = ?").run([
            .text(PasswordCheck.hash("pw-for-the-page", cost: 4))
        ])
        // c's newest snapshot is three days old: stale. a's first snapshot is the one a plan will find blocked.
        let old = Timestamp.iso8601(Timestamp.now - 3 * 86_400)
        for arguments in [
            ["backup", "--db", dir.appendingPathComponent("c.sqlite").path, "--repo", repo, "--time", old],
            ["backup", "--db", dir.appendingPathComponent("b.sqlite").path, "--repo", repo],
            ["backup", "--db", served, "--repo", repo, "--tag", "before-change"],
        ] {
            let result = try VeloProcess.run(arguments)
            #expect(result.status == 0, "\(result.stderr)")
        }
        // A user re-created under a new id keeps its email: restoring the first snapshot would insert the old row
        // beside it, a collision on the unique email.
        _ = try Scratch.sqlite(served, "UPDATE _velo_users SET id = 'zzzzzzzzzzzzzzzzzzzzzzzzzz' WHERE rowid = 1")

        // velo replicate captures the served database while the page is used: its point-in-time section shows.
        _ = try Scratch.sqlite(served, "PRAGMA journal_mode=WAL")
        let capture = try ReplicateProcess(["--db", served, "--repo", repo])
        defer { _ = capture.stop() }
        #expect(capture.waitForFirstBatch(), "\(capture.stderr)")
        // Served as Veloquent serves tenants: a landlord picks a's database by the browser's Host (127.0.0.1), and
        // a's superusers operate the repository (`--operator`): the overview lists every tenant.
        let landlord = dir.appendingPathComponent("landlord.sqlite").path
        _ = try Scratch.sqlite(
            landlord,
            "CREATE TABLE tenants (id INTEGER PRIMARY KEY, name TEXT, domain TEXT UNIQUE, database TEXT); "
                + "INSERT INTO tenants (name, domain, database) VALUES ('A', '127.0.0.1', '\(served)'), "
                + "('B', 'b.localhost', '\(dir.appendingPathComponent("b.sqlite").path)'), ('C', 'c.localhost', '\(dir.appendingPathComponent("c.sqlite").path)')"
        )
        let server = try ServedForTest([
            "serve", "--landlord", landlord, "--operator", "127.0.0.1", "--repo", repo, "--listen", "127.0.0.1:0",
        ])
        defer { server.stop() }
        let shots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/test-artifacts/backups-page").path
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/browser/backups_page.py").path
        let run = try VeloProcess.runTool(
            "/usr/bin/env", ["python3", script, server.base, "admin@acme.test", "pw-for-the-page", served, repo, shots])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)\nserver log:\n\(server.log())")
        for name in ["overview.png", "plan-blocked.png", "plan.png", "retention.png", "phone.png"] {
            #expect(FileManager.default.fileExists(atPath: "\(shots)/\(name)"), "\(name) was taken")
        }
        // The archive the browser saved (streamed by the page's download worker) is a sound, self-contained one.
        let downloaded = try #require(run.stdout.split(separator: "\n").first { $0.hasPrefix("downloaded: ") }?.dropFirst(12))
        let verified = try VeloProcess.run(["verify", String(downloaded)])
        #expect(verified.status == 0 && verified.stdout.contains("ok"), "\(verified.stdout)\(verified.stderr)")
        // What the page restored is in the database: the five posts the app changed are back, and the two
        // restores' safety snapshots are in the repository.
        #expect(try Scratch.sqlite(served, "SELECT count(*) FROM _velo_posts WHERE title = 'changed by the app'") == "0")
        let snapshots = try VeloProcess.run(["snapshots", "--repo", repo, "--tag", "pre-restore", "--json"])
        #expect(
            try JSONParser.parse(snapshots.stdout).arrayValue?.count == 2, "the snapshot's restore and the moment's: \(snapshots.stdout)")
    }

    /// The page is small enough to load at once on a slow line: HTML, CSS and JavaScript together ≤ 100 KiB.
    @Test func thePageWeighsAtMost100KiB() {
        #expect(BackupsPage.weight <= 100 * 1024, "\(BackupsPage.weight) bytes")
        #expect(!BackupsPage.document.contains("http://") && !BackupsPage.document.contains("https://"), "nothing from another origin")
        // The SVG namespace is a name, not an address anything is fetched from.
        let script = BackupsPage.script.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "")
        #expect(!script.contains("http://") && !script.contains("https://"), "nothing from another origin")
        let worker = BackupsPage.downloadWorker
        #expect(!worker.contains("http://") && !worker.contains("https://"), "nothing from another origin")
    }
}

/// A `velo serve` process on a free loopback port, stopped with SIGTERM; its log is read as it comes (a full pipe
/// would stop the server).
final class ServedForTest: @unchecked Sendable {
    let process = Process()
    let base: String
    private let stderr = Pipe()
    private let logged = Logged()

    init(_ arguments: [String]) throws {
        process.executableURL = VeloProcess.executable
        process.arguments = arguments
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var port: Int?
        var head = Data()
        while port == nil {
            let chunk = stderr.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            head.append(chunk)
            let text = String(decoding: head, as: UTF8.self)
            if let range = text.range(of: #"address=127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(text[range].split(separator: ":").last!)
            }
        }
        logged.append(head)
        guard let port else {
            process.terminate()
            throw VeloError("velo serve did not start: \(String(decoding: head, as: UTF8.self))")
        }
        base = "http://127.0.0.1:\(port)"
        let log = logged
        stderr.fileHandleForReading.readabilityHandler = { handle in log.append(handle.availableData) }
    }

    /// What the server logged so far.
    func log() -> String { logged.text }

    func stop() {
        stderr.fileHandleForReading.readabilityHandler = nil
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}

/// Bytes appended from the pipe's thread and read from the test's.
private final class Logged: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ chunk: Data) { lock.withLock { data.append(chunk) } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
