import Foundation
import Testing
import VeloKit

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

/// velo under injected I/O faults and with every durable operation logged, through `Tests/Shims/faultio.c`
/// preloaded into the real binary: an error names the file, nothing incomplete is catalogued, the target is
/// unchanged, and every file is fsynced (with its folder) before anything refers to it.
@Suite struct FaultInjectionCommandTests {
    /// The shim, compiled once per test run with the system C compiler.
    static let shim: String = {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Shims/faultio.c").path
        let output = Scratch.directory("shim").appendingPathComponent("faultio.so").path  // removed with the run's scratch
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-shared", "-fPIC", "-O1", "-o", output, source, "-ldl"]
        try? cc.run()
        cc.waitUntilExit()
        return output
    }()

    static func run(
        _ arguments: [String], log: String? = nil, failWrite: String? = nil, failFsync: String? = nil
    ) throws -> VeloProcess.Result {
        #expect(FileManager.default.fileExists(atPath: shim), "the fault shim did not build (is a C compiler installed?)")
        var env = ["LD_PRELOAD": shim]
        env["FAULTIO_LOG"] = log
        env["FAULTIO_WRITE"] = failWrite
        env["FAULTIO_FSYNC"] = failFsync
        return try VeloProcess.run(arguments, environment: env)
    }

    static func lines(_ log: String) throws -> [String] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// The position of the first logged line with this operation whose operands match, to compare orders.
    static func position(
        _ lines: [String], _ op: String, _ predicate: ([Substring]) -> Bool, sourceLocation: SourceLocation = #_sourceLocation
    ) -> Int {
        let index = lines.firstIndex { line in
            let parts = line.split(separator: " ")
            return parts.first.map(String.init) == op && predicate(Array(parts.dropFirst()))
        }
        #expect(index != nil, "no \(op) matching in \(lines.joined(separator: "\n"))", sourceLocation: sourceLocation)
        return index ?? -1
    }

    struct Setup {
        var dir: URL
        var db: String
        var repo: String
        init(_ name: String = #function) throws {
            dir = Scratch.directory(name)
            db = dir.appendingPathComponent("tenant.sqlite").path
            repo = dir.appendingPathComponent("repo").path
            #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "20"]).status == 0)
        }
        func files(under folder: String) -> [String] {
            (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String] ?? []).filter { !$0.hasSuffix("/") }
        }
    }

    @Test func aBackupMakesTheArchiveAndItsFoldersDurableBeforeTheCatalogNamesIt() throws {
        let s = try Setup()
        let log = s.dir.appendingPathComponent("log").path
        let backup = try Self.run(["backup", "--full", "--db", s.db, "--repo", s.repo, "--json"], log: log)
        #expect(backup.status == 0, "\(backup.stderr)")
        let id = try JSONParser.parse(backup.stdout)["id"]!.stringValue!
        let l = try Self.lines(log)
        let syncPartial = Self.position(l, "fsync") { $0[0].contains(".tar.zst.") }
        let rename = Self.position(l, "rename") { $0[0].contains(".tar.zst.") && $0[1].hasSuffix(".tar.zst") }
        let year = Self.position(l, "fsync") {
            $0[0].hasSuffix("/snapshots/2026") || $0[0].range(of: #"/snapshots/\d{4}$"#, options: .regularExpression) != nil
        }
        let month = Self.position(l, "fsync") { $0[0].range(of: #"/snapshots/\d{4}/\d{2}$"#, options: .regularExpression) != nil }
        let detail = Self.position(l, "rename") { $0[1].hasSuffix("catalog/\(id).manifest.json") }
        let entry = Self.position(l, "rename") { $0[1].hasSuffix("catalog/\(id).json") }
        let lastCatalogSync = l.lastIndex { $0 == "fsync \(s.repo)/catalog" } ?? -1
        #expect(
            year < rename && syncPartial < rename && rename < month && month < detail && detail < entry && entry < lastCatalogSync,
            "\(l.joined(separator: "\n"))")
        // The new repository's own folder entry is durable too.
        #expect(l.contains("fsync \(s.dir.path)"), "\(l.joined(separator: "\n"))")
    }

    @Test func aRestoreIntoANewFileIsDurableBeforeItAppearsAndAPruneMarksBeforeItRemoves() throws {
        let s = try Setup()
        for hour in 1...3 {
            #expect(
                try VeloProcess.run(["backup", "--full", "--db", s.db, "--repo", s.repo, "--time", "2026-11-27T0\(hour):00:00Z"]).status
                    == 0)
        }
        let log = s.dir.appendingPathComponent("log").path
        let target = s.dir.appendingPathComponent("restored.sqlite").path
        #expect(try Self.run(["restore", "latest", "--repo", s.repo, "--target", target], log: log).status == 0)
        var l = try Self.lines(log)
        let sync = Self.position(l, "fsync") { $0[0].contains(".velo-restore-") }
        let link = Self.position(l, "link") { $0[1] == target }
        let dir = l.lastIndex { $0 == "fsync \(s.dir.path)" } ?? -1
        #expect(sync < link && link < dir, "\(l.joined(separator: "\n"))")
        // Prune: the removal marker is durable before the catalog entry and the archive go.
        let policy = s.dir.appendingPathComponent("policy.json").path
        try Data("{\"keep_last\": 1}".utf8).write(to: URL(fileURLWithPath: policy))
        unlink(log)
        #expect(try Self.run(["prune", "--repo", s.repo, "--policy", policy], log: log).status == 0)
        l = try Self.lines(log)
        let marker = Self.position(l, "rename") { $0[1].contains("/trash/") }
        let trashSync = Self.position(l, "fsync") { $0[0].hasSuffix("/trash") }
        let entryGone = Self.position(l, "unlink") { $0[0].contains("/catalog/") }
        let archiveGone = Self.position(l, "unlink") { $0[0].hasSuffix(".tar.zst") }
        #expect(marker < trashSync && trashSync < entryGone && entryGone < archiveGone, "\(l.joined(separator: "\n"))")
    }

    @Test(arguments: [("write", ".tar.zst."), ("fsync", ".tar.zst."), ("write", "/catalog/.")])
    func aBackupThatCannotWriteCataloguesNothingIncomplete(fault: String, path: String) throws {
        let s = try Setup()
        #expect(try VeloProcess.run(["backup", "--full", "--db", s.db, "--repo", s.repo]).status == 0)
        let failed = try Self.run(
            ["backup", "--full", "--db", s.db, "--repo", s.repo], failWrite: fault == "write" ? path : nil,
            failFsync: fault == "fsync" ? path : nil)
        #expect(failed.status == 1, "\(failed.stdout)")
        #expect(failed.stderr.contains(s.repo) && failed.stderr.contains("Input/output error"), "\(failed.stderr)")
        #expect(!s.files(under: s.repo).contains { $0.contains(".tar.zst.") }, "\(s.files(under: s.repo))")
        // Only complete snapshots are listed, and all of them verify.
        let listed = try JSONParser.parse(try VeloProcess.run(["snapshots", "--repo", s.repo, "--json"]).stdout).arrayValue!
        #expect(listed.count == 1)
        #expect(try VeloProcess.run(["verify", "--all", "--repo", s.repo]).status == 0)
        // The next run catalogues a complete archive whose catalog write failed, and works.
        #expect(try VeloProcess.run(["backup", "--full", "--db", s.db, "--repo", s.repo]).status == 0)
        let after = try JSONParser.parse(try VeloProcess.run(["snapshots", "--repo", s.repo, "--json"]).stdout).arrayValue!
        #expect(after.count == (path == "/catalog/." ? 3 : 2))
        #expect(try VeloProcess.run(["verify", "--all", "--repo", s.repo]).status == 0)
    }

    @Test func aRestoreThatCannotWriteLeavesNoFileAndNoChange() throws {
        let s = try Setup()
        #expect(try VeloProcess.run(["backup", "--full", "--db", s.db, "--repo", s.repo]).status == 0)
        let target = s.dir.appendingPathComponent("restored.sqlite").path
        let new = try Self.run(["restore", "latest", "--repo", s.repo, "--target", target], failWrite: ".velo-restore-")
        #expect(new.status == 1 && new.stderr.contains("restored.sqlite"), "\(new.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.dir.path).filter { $0.hasPrefix("restored") }.isEmpty)
        // A merge whose commit cannot be made durable is rolled back: the target keeps its rows.
        let merged = s.dir.appendingPathComponent("merged.sqlite").path
        try FileManager.default.copyItem(atPath: s.db, toPath: merged)
        try Database(path: merged, mode: .readWrite).execute("DELETE FROM _velo_posts WHERE rowid % 2 = 0")
        let before = try Scratch.dump(merged)
        let merge = try Self.run(
            ["restore", "latest", "--repo", s.repo, "--target", merged, "--yes", "--no-safety-snapshot"], failFsync: "merged.sqlite")
        #expect(merge.status == 1 && merge.stderr.contains("merged.sqlite"), "\(merge.stderr)")
        #expect(try Scratch.dump(merged) == before)
        #expect(try Database(path: merged).rows("PRAGMA integrity_check").first?.first?.stringValue == "ok")
    }

    @Test func aPruneThatCannotWriteItsMarkerRemovesNothing() throws {
        let s = try Setup()
        for hour in 1...3 {
            #expect(
                try VeloProcess.run(["backup", "--full", "--db", s.db, "--repo", s.repo, "--time", "2026-11-27T0\(hour):00:00Z"]).status
                    == 0)
        }
        let policy = s.dir.appendingPathComponent("policy.json").path
        try Data("{\"keep_last\": 1}".utf8).write(to: URL(fileURLWithPath: policy))
        let prune = try Self.run(["prune", "--repo", s.repo, "--policy", policy], failWrite: "/trash/")
        #expect(prune.status == 1 && prune.stderr.contains("/trash/"), "\(prune.stderr)")
        #expect(try JSONParser.parse(try VeloProcess.run(["snapshots", "--repo", s.repo, "--json"]).stdout).arrayValue!.count == 3)
        #expect(try VeloProcess.run(["verify", "--all", "--repo", s.repo]).status == 0)
    }
}
