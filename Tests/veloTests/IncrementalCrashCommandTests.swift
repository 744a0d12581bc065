import Foundation
import Testing
import VeloKit

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

/// kill -9 at each step of an incremental backup and of a prune (through the fault shim's FAULTIO_KILL): every
/// catalogued snapshot still verifies, and after the next writer no piece is left that nothing uses.
@Suite struct IncrementalCrashCommandTests {
    struct Setup {
        var dir: URL
        var db: String
        var repo: String

        /// A source and a repository with two incremental snapshots.
        init(_ name: String = #function) throws {
            dir = Scratch.directory(name)
            db = dir.appendingPathComponent("tenant.sqlite").path
            repo = dir.appendingPathComponent("repo").path
            #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "40"]).status == 0)
            #expect(try VeloProcess.run(["backup", "--db", db, "--repo", repo]).status == 0)
            try change()
            #expect(try VeloProcess.run(["backup", "--db", db, "--repo", repo]).status == 0)
            try "{\"keep_last\": -1}".write(toFile: dir.appendingPathComponent("all.json").path, atomically: true, encoding: .utf8)
            try "{\"keep_last\": 1}".write(toFile: dir.appendingPathComponent("one.json").path, atomically: true, encoding: .utf8)
        }

        /// Changes the same rows again, so that the previous snapshot's new segments are superseded.
        func change() throws {
            let db = try Database(path: self.db, mode: .readWrite)
            try db.execute("UPDATE _velo_posts SET views = coalesce(views, 0) + 1 WHERE rowid % 10 = 0")
        }

        /// A copy of the repository to kill a run in.
        func copy(_ label: String) throws -> String {
            let copy = dir.appendingPathComponent("repo-\(label)").path
            try FileManager.default.copyItem(atPath: repo, toPath: copy)
            return copy
        }

        func snapshots(_ repo: String) throws -> Int {
            (try JSONParser.parse(try VeloProcess.run(["snapshots", "--repo", repo, "--json"]).stdout).arrayValue ?? []).count
        }

        /// Every catalogued snapshot verifies; the next writer leaves nothing unreferenced, no marker and no litter.
        func expectWholeThenClean(_ repo: String, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let verify = try VeloProcess.run(["verify", "--all", "--repo", repo])
            #expect(verify.status == 0, "\(label): \(verify.stdout)\(verify.stderr)", sourceLocation: sourceLocation)
            #expect(try VeloProcess.run(["backup", "--db", db, "--repo", repo]).status == 0, sourceLocation: sourceLocation)
            let dry = try JSONParser.parse(
                try VeloProcess.run([
                    "prune", "--repo", repo, "--policy", dir.appendingPathComponent("all.json").path, "--dry-run", "--json",
                ]).stdout)
            #expect(dry["bytes_freed"]?.intValue == 0, "\(label): unreferenced pieces are left: \(dry)", sourceLocation: sourceLocation)
            let files = FileManager.default.enumerator(atPath: repo)?.allObjects as? [String] ?? []
            let litter = files.filter { $0.contains(".tmp-") || $0.hasSuffix(".partial") || $0.hasSuffix("sweep-needed") }
            #expect(litter.isEmpty, "\(label): \(litter)", sourceLocation: sourceLocation)
        }
    }

    /// Runs velo and kills it just before the `skip`+1-th rename to or unlink of a path containing `text`.
    static func killed(_ arguments: [String], at text: String, skip: Int) throws -> VeloProcess.Result {
        try VeloProcess.run(
            arguments,
            environment: ["LD_PRELOAD": FaultInjectionCommandTests.shim, "FAULTIO_KILL": text, "FAULTIO_KILL_SKIP": String(skip)])
    }

    /// Where to kill: before the sweep marker is made, before the first pack and list are in place, before the
    /// archive is, before the catalog names it (or before a prune's trash marker and archive removal, before the
    /// sweep deletes the first list and pack), and before the marker is removed at the end.
    static let backupPoints = [
        ("sweep-needed", 0), ("data/packs/", 0), ("data/lists/", 0), (".tar.zst", 0), ("catalog/", 0), ("sweep-needed", 1),
    ]
    static let prunePoints = [
        ("sweep-needed", 0), ("trash/", 0), ("snapshots/", 0), ("data/lists/", 0), ("data/packs/", 0), ("sweep-needed", 1),
    ]

    @Test func aBackupKilledAtAnyStepLosesNothingAndLeavesNothing() throws {
        let s = try Setup()
        try s.change()
        for (point, skip) in Self.backupPoints {
            let repo = try s.copy(point.filter { $0.isLetter } + "\(skip)")
            let run = try Self.killed(["backup", "--db", s.db, "--repo", repo], at: point, skip: skip)
            #expect(run.status == SIGKILL, "\(point): the backup was not killed there (\(run.status)): \(run.stderr)")
            #expect(try s.snapshots(repo) >= 2)
            try s.expectWholeThenClean(repo, "backup killed before \(point)")
        }
    }

    @Test func aPruneKilledAtAnyStepLosesNothingAndLeavesNothing() throws {
        let s = try Setup()
        try s.change()
        #expect(try VeloProcess.run(["backup", "--db", s.db, "--repo", s.repo]).status == 0)
        for (point, skip) in Self.prunePoints {
            let repo = try s.copy("prune-" + point.filter { $0.isLetter } + "\(skip)")
            let run = try Self.killed(
                ["prune", "--repo", repo, "--policy", s.dir.appendingPathComponent("one.json").path], at: point, skip: skip)
            #expect(run.status == SIGKILL, "\(point): the prune was not killed there (\(run.status)): \(run.stderr)")
            #expect(try s.snapshots(repo) >= 1)
            try s.expectWholeThenClean(repo, "prune killed before \(point)")
        }
    }

    /// A command that writes a new file aside and renames it into place, killed just before the rename: no
    /// file at `output` (nothing that looks complete), and the same command run again succeeds and leaves no
    /// file containing `litter` beside it.
    func expectKilledBeforeRenameThenCleaned(_ s: Setup, _ arguments: [String], output: String, litter: String) throws {
        let name = (output as NSString).lastPathComponent
        let run = try Self.killed(arguments, at: name, skip: 0)
        #expect(run.status == SIGKILL, "\(arguments[0]) was not killed before its rename (\(run.status)): \(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output), "\(arguments[0]): nothing that looks complete")
        let next = try VeloProcess.run(arguments)
        #expect(next.status == 0, "\(next.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: s.dir.path).filter { $0.contains(litter) }
        #expect(left.isEmpty, "\(arguments[0]) left \(left)")
    }

    /// A `velo export` killed before its rename leaves `.<name>.tmp-<pid>`; the next export of that file removes it.
    @Test func anExportKilledBeforeItsRenameIsCleanedByTheNext() throws {
        let s = try Setup()
        let out = s.dir.appendingPathComponent("export.tar.zst").path
        try expectKilledBeforeRenameThenCleaned(s, ["export", "latest", "--repo", s.repo, "--out", out], output: out, litter: ".tmp-")
        #expect(try VeloProcess.run(["verify", out]).status == 0)
    }

    /// A restore into a new file killed before its rename leaves `<target>.velo-restore-<pid>`; the next restore
    /// to that target removes it.
    @Test func aRestoreKilledBeforeItsRenameIsCleanedByTheNext() throws {
        let s = try Setup()
        let target = s.dir.appendingPathComponent("restored.sqlite").path
        try expectKilledBeforeRenameThenCleaned(
            s, ["restore", "latest", "--repo", s.repo, "--target", target], output: target, litter: "velo-restore-")
    }

    /// A merge restore killed while its safety snapshot is catalogued (before the import began) leaves the
    /// target as it was and a repository the next writer makes whole.
    @Test func aMergeRestoreKilledBeforeItsImportLeavesTheTargetAndTheRepositoryWhole() throws {
        let s = try Setup()
        let before = try Data(contentsOf: URL(fileURLWithPath: s.db))
        let repo = try s.copy("merge")
        let run = try Self.killed(
            ["restore", "latest", "--repo", repo, "--target", s.db, "--conflict", "overwrite", "--yes"], at: "catalog/", skip: 0)
        #expect(run.status == SIGKILL, "the restore was not killed there (\(run.status)): \(run.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.db)) == before, "the target is untouched")
        try s.expectWholeThenClean(repo, "merge restore killed before its safety snapshot was catalogued")
    }

    /// Every table's rows, as text: what "untouched" means for a database that was open when its writer died.
    /// Opened read-write, as Veloquent opens it: SQLite rolls a hot journal back on the first such open (a
    /// read-only open refuses the database until then).
    static func rows(of path: String) throws -> String {
        let db = try Database(path: path, mode: .readWrite)
        var text = ""
        for row in try db.rows("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name") {
            guard case .text(let table) = row[0] else { continue }
            text += "\(table): \(try db.rows("SELECT * FROM \"\(table)\"").map { "\($0)" }.sorted().joined(separator: "|"))\n"
        }
        return text
    }

    /// A merge restore and a transfer import killed at their commit (just before SQLite deletes the rollback
    /// journal, which is the commit in that mode): the next open rolls the target back to what it was, nothing
    /// was half applied, and the repository (with the safety snapshot) is whole for the next writer.
    @Test func aMergeRestoreAndATransferImportKilledAtTheirCommitLeaveTheTargetAsItWas() throws {
        let s = try Setup()
        let payload = s.dir.appendingPathComponent("payload.json").path
        #expect(try VeloProcess.run(["transfer", "export", "--db", s.db, "--out", payload]).status == 0)
        // The import's first journal deletion ends an empty transaction of its preflight; its commit is the second.
        for (label, arguments, skip) in [
            ("restore", ["restore", "latest", "--target", s.db, "--conflict", "overwrite", "--yes"], 0),
            ("import", ["transfer", "import", payload, "--target", s.db, "--conflict", "overwrite", "--yes"], 1),
        ] {
            // Changes for the restore or the import to undo.
            let db = try Database(path: s.db, mode: .readWrite)
            try db.execute("UPDATE _velo_posts SET title = title || ' (edited)' WHERE rowid % 3 = 0")
            try db.execute("DELETE FROM _velo_posts WHERE rowid % 5 = 0")
            let before = try Self.rows(of: s.db)
            let repo = try s.copy("commit-\(label)")
            let run = try Self.killed(arguments + ["--repo", repo], at: "tenant.sqlite-journal", skip: skip)
            #expect(run.status == SIGKILL, "\(label) was not killed at its commit (\(run.status)): \(run.stderr)")
            // Until something opens it read-write, a backup (which opens its source read-only) says why it cannot.
            let early = try VeloProcess.run(["backup", "--db", s.db, "--repo", repo])
            #expect(early.status != 0 && early.stderr.contains("rollback journal waits beside it"), "\(label): \(early.stderr)")
            #expect(try Self.rows(of: s.db) == before, "\(label): the target is as it was")
            try s.expectWholeThenClean(repo, "\(label) killed at its commit")
        }
    }
}
