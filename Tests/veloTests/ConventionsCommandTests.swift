import Foundation
import Testing
import VeloKit

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

/// What scripts rely on: the format-v1 and format-v2 promises, help texts, and errors as JSON objects with their exit statuses.
@Suite struct ConventionsCommandTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
        "Fixtures")

    /// A format-v1 archive made once (by velo 0.1.0) and committed: every later velo verifies, inspects, cats and
    /// restores it to the committed dump. If this test fails, the format promise in docs/FORMAT.md is broken.
    @Test func aCommittedFormatV1ArchiveStaysReadable() throws {
        let dir = Scratch.directory()
        let archive = dir.appendingPathComponent("snapshot.tar.zst").path
        try FileManager.default.copyItem(atPath: Self.fixtures.appendingPathComponent("format-v1/snapshot.tar.zst").path, toPath: archive)
        #expect(try VeloProcess.run(["verify", archive]).status == 0)
        let inspect = try JSONParser.parse(try VeloProcess.run(["inspect", archive, "--json"]).stdout)
        #expect(inspect["format_version"] == .int(1) && inspect["tool_version"] == .string("0.1.0"))
        let cat = try VeloProcess.run(["cat", archive, "posts"])
        #expect(cat.stdout == (try String(contentsOf: Self.fixtures.appendingPathComponent("format-v1/posts.ndjson"), encoding: .utf8)))
        let target = dir.appendingPathComponent("restored.sqlite").path
        let restore = try VeloProcess.run(["restore", archive, "--target", target])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(
            try Scratch.dump(target)
                == (try String(contentsOf: Self.fixtures.appendingPathComponent("format-v1/restored.dump.sql"), encoding: .utf8)))
    }

    /// A repository of format-v2 incremental snapshots (a first one and one with patch lists, made once by velo
    /// 0.1.0) committed: every later velo verifies, cats and restores them to the committed dumps' SHA-256s,
    /// exports one to a version 1 archive, backs another source up next to them and prunes the first, whose
    /// lists the second's patches are based on. If this test fails, the format promise in docs/FORMAT.md is broken.
    @Test func aCommittedFormatV2RepositoryStaysReadable() throws {
        let dir = Scratch.directory()
        let repo = dir.appendingPathComponent("repo").path
        try FileManager.default.copyItem(atPath: Self.fixtures.appendingPathComponent("format-v2/repo").path, toPath: repo)
        let expected = try JSONParser.parse(try Array(Data(contentsOf: Self.fixtures.appendingPathComponent("format-v2/expected.json"))))
        let ids = try #require(expected.objectValue?.map(\.0))
        #expect(ids.count == 2)
        let verify = try VeloProcess.run(["verify", "--repo", repo, "--all"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        func sha256(_ text: String) -> String { SHA256Digest.of(Array(text.utf8)) }
        for id in ids {
            let inspect = try JSONParser.parse(try VeloProcess.run(["inspect", "--repo", repo, id, "--json"]).stdout)
            #expect(inspect["format_version"] == .int(2))
            #expect(sha256(try VeloProcess.run(["cat", "--repo", repo, id, "posts"]).stdout) == expected[id]?["posts_sha256"]?.stringValue)
            let target = dir.appendingPathComponent("\(id).sqlite").path
            let restore = try VeloProcess.run(["restore", "--repo", repo, id, "--target", target])
            #expect(restore.status == 0, "\(restore.stderr)")
            #expect(
                sha256(try Scratch.dump(target)) == expected[id]?["dump_sha256"]?.stringValue, "snapshot \(id) restores to another database"
            )
        }
        let exported = dir.appendingPathComponent("export.tar.zst").path
        #expect(try VeloProcess.run(["export", "--repo", repo, ids[1], "--out", exported]).status == 0)
        #expect(try VeloProcess.run(["verify", exported]).status == 0)
        let db = dir.appendingPathComponent("tenant.sqlite").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "20"]).status == 0)
        #expect(try VeloProcess.run(["backup", "--db", db, "--repo", repo]).status == 0)
        let after = try VeloProcess.run(["verify", "--repo", repo, "--all", "--json"])
        #expect(after.status == 0, "\(after.stdout)")
        // Pruning the first version 2 snapshot keeps what the second's patch lists are based on.
        let policy = dir.appendingPathComponent("policy.json").path
        try Data(#"{"keep_last": 1}"#.utf8).write(to: URL(fileURLWithPath: policy))
        let prune = try VeloProcess.run(["prune", "--repo", repo, "--policy", policy])
        #expect(prune.status == 0, "\(prune.stderr)")
        let verifyAfterPrune = try VeloProcess.run(["verify", "--repo", repo, "--all"])
        #expect(verifyAfterPrune.status == 0 && !verifyAfterPrune.stdout.contains(String(ids[0].prefix(8))), "\(verifyAfterPrune.stdout)")
        let target = dir.appendingPathComponent("after-prune.sqlite").path
        #expect(try VeloProcess.run(["restore", "--repo", repo, ids[1], "--target", target]).status == 0)
        #expect(sha256(try Scratch.dump(target)) == expected[ids[1]]?["dump_sha256"]?.stringValue)
    }

    /// `velo <command> --help` as committed in Tests/Fixtures/help; `VELO_UPDATE_HELP=1 swift test` rewrites them
    /// after a deliberate change (review the diff).
    @Test(arguments: [
        "", "init", "backup", "snapshots", "inspect", "verify", "cat", "diff", "plan", "restore", "prune",
        "schema", "schema corrupt", "schema recover", "schema orphans", "unlock", "info", "demo",
        "transfer", "transfer options", "transfer export", "transfer import", "export", "status", "run", "serve", "copy",
        "key", "key list", "key add", "key remove", "key passwd", "replicate",
    ])
    func helpTextsAreAsCommitted(command: String) throws {
        let words = command.split(separator: " ").map(String.init)
        let help = try VeloProcess.run(words + ["--help"], environment: ["COLUMNS": "100"])
        #expect(help.status == 0)
        let file = Self.fixtures.appendingPathComponent(
            "help/\(command.isEmpty ? "velo" : command.replacingOccurrences(of: " ", with: "-")).txt")
        if ProcessInfo.processInfo.environment["VELO_UPDATE_HELP"] == "1" {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try help.stdout.write(to: file, atomically: true, encoding: .utf8)
        }
        let committed = try? String(contentsOf: file, encoding: .utf8)
        #expect(
            committed == help.stdout, "help of '\(command)' changed; if on purpose, run VELO_UPDATE_HELP=1 swift test and review the diff")
    }

    /// Under --json, every kind of error is `{"error": {"kind", "message", "exit_status", …}}` on stdout, with the
    /// exit status README documents, and nothing on stderr.
    @Test func errorsAreJSONObjectsWithTheirExitStatus() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "10"]).status == 0)
        #expect(try VeloProcess.run(["backup", "--db", db, "--repo", repo]).status == 0)
        let plain = dir.appendingPathComponent("plain.sqlite").path
        try Database(path: plain, mode: .create).execute("CREATE TABLE notes (body TEXT)")
        let damaged = dir.appendingPathComponent("damaged.tar.zst").path
        try Data("not an archive".utf8).write(to: URL(fileURLWithPath: damaged))
        let target = dir.appendingPathComponent("target.sqlite").path
        try FileManager.default.copyItem(atPath: db, toPath: target)
        try Database(path: target, mode: .readWrite).execute("UPDATE superusers SET id = 'other-' || id")  // same emails, other ids
        let corrupt = dir.appendingPathComponent("corrupt.sqlite").path
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: db)).prefix(8192))
        for i in 100..<bytes.count { bytes[i] = 0xA5 }
        try Data(bytes).write(to: URL(fileURLWithPath: corrupt))
        let cases: [([String], String, Int)] = [
            (["snapshots"], "usage", 64),
            (["snapshots", "--repo", dir.appendingPathComponent("nothing").path], "input", 1),
            (["backup", "--db", plain, "--repo", repo], "not_veloquent", 1),
            (["verify", damaged], "damaged", 3),
            (["inspect", damaged], "damaged", 3),
            (["restore", "latest", "--repo", repo, "--target", target, "--yes", "--no-safety-snapshot"], "blocked", 3),
            (["info", "--db", corrupt], "database", 1),
        ]
        for (arguments, kind, status) in cases {
            let result = try VeloProcess.run(arguments + ["--json"])
            #expect(result.status == Int32(status), "\(arguments): \(result.status) \(result.stdout) \(result.stderr)")
            if arguments[0] == "verify" {
                // verify reports damage as its report, not as an error.
                #expect(try JSONParser.parse(result.stdout).arrayValue?.first?["ok"] == .bool(false))
                continue
            }
            #expect(result.stderr.isEmpty, "\(arguments): \(result.stderr)")
            let error = try JSONParser.parse(result.stdout)["error"]
            #expect(error?["kind"] == .string(kind) && error?["exit_status"] == .int(status), "\(arguments): \(result.stdout)")
            #expect(error?["message"]?.stringValue?.isEmpty == false)
        }
    }

    @Test func verboseSaysWhatVeloDoesAndQuietOnlyResultsAndErrors() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "5"]).status == 0)
        let verbose = try VeloProcess.run(["backup", "--db", db, "--repo", repo, "-v"])
        #expect(verbose.status == 0 && verbose.stderr.contains("velo: info:") && verbose.stderr.contains("catalogued"), "\(verbose.stderr)")
        // A stale lock is a warning: shown by default, hidden by --quiet.
        let stale =
            #"{"pid":2000000000,"host":"\#(ProcessInfo.processInfo.hostName)","time":"2026-11-27T03:00:00Z","command":"velo backup"}"#
        try stale.write(toFile: repo + "/locks/exclusive.json", atomically: true, encoding: .utf8)
        let quiet = try VeloProcess.run(["backup", "--db", db, "--repo", repo, "--quiet"])
        #expect(quiet.status == 0 && quiet.stderr.isEmpty && quiet.stdout.contains("saved"), "\(quiet.stderr)")
        try stale.write(toFile: repo + "/locks/exclusive.json", atomically: true, encoding: .utf8)
        let normal = try VeloProcess.run(["backup", "--db", db, "--repo", repo])
        #expect(normal.stderr.contains("velo: warning:") && normal.stderr.contains("stale lock"), "\(normal.stderr)")
        #expect(try VeloProcess.run(["snapshots", "--repo", repo, "-q", "-v"]).status == 64)
    }
}
