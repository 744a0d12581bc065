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

    /// The schema (every object's SQL) and every table's rows: what "as it was" means for a schema repair.
    static func schemaAndRows(of path: String) throws -> String {
        let text = try rows(of: path)
        let db = try Database(path: path, mode: .readOnly)
        let schema = try db.rows("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name").map { "\($0)" }
        return schema.joined(separator: "\n") + "\n" + text
    }

    /// `velo schema recover` and `velo schema orphans --drop` killed once their safety snapshot is written but
    /// before the catalog names it, and at their commit (the rollback journal's deletion): the database keeps its
    /// schema and rows (SQLite rolls the journal back on the next read-write open), the repository is whole for
    /// the next writer, and the repair run again succeeds.
    @Test func schemaRepairsKilledAtTheirSnapshotOrCommitLeaveTheDatabaseAsItWas() throws {
        let s = try Setup()
        try Database(path: s.db, mode: .readWrite).execute(
            "DROP INDEX _velo_posts_author_index; CREATE TABLE _velo_old (id varchar, note text); INSERT INTO _velo_old VALUES ('1', 'keep me')"
        )
        for (label, arguments) in [
            ("recover", ["schema", "recover", "posts", "--db", s.db]),
            ("drop", ["schema", "orphans", "--db", s.db, "--drop-all", "--yes"]),
        ] {
            for point in ["catalog/", "tenant.sqlite-journal"] {
                let before = try Self.schemaAndRows(of: s.db)
                let repo = try s.copy("\(label)-\(point.filter(\.isLetter))")
                let run = try Self.killed(arguments + ["--repo", repo], at: point, skip: 0)
                #expect(run.status == SIGKILL, "\(label) was not killed before \(point) (\(run.status)): \(run.stderr)")
                #expect(try Self.schemaAndRows(of: s.db) == before, "\(label) killed before \(point): the database changed")
                try s.expectWholeThenClean(repo, "\(label) killed before \(point)")
            }
            let done = try VeloProcess.run(arguments + ["--repo", s.repo])
            #expect(done.status == 0, "\(label) after the kills: \(done.stderr)")
        }
        #expect(try VeloProcess.run(["schema", "corrupt", "--db", s.db]).status == 0)
        #expect(try VeloProcess.run(["schema", "orphans", "--db", s.db]).stdout.contains("no orphan tables"))
    }

    /// A whole app: `velo backup --app` killed before its second tenant's archive is catalogued, and a tenant
    /// restore with uploaded files killed at its database commit and between the renames of its files (the
    /// database committed, one file in place, the rest written aside). Each time the next run of the same
    /// command completes, the repository verifies, and no `.velo-restore-` file is left in the app.
    @Test func anAppBackupAndATenantRestoreKilledMidwayAreCompletedByTheNextRun() throws {
        let dir = Scratch.directory()
        let app = dir.appendingPathComponent("app").path, repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--app", app, "--tenants", "2", "--posts", "30", "--files", "3"]).status == 0)
        let backup = ["backup", "--app", app, "--repo", repo]
        let killedBackup = try Self.killed(backup, at: "catalog/", skip: 1)
        #expect(killedBackup.status == SIGKILL, "the app backup was not killed (\(killedBackup.status)): \(killedBackup.stderr)")
        let next = try VeloProcess.run(backup)
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try VeloProcess.run(["verify", "--all", "--repo", repo]).status == 0)

        let uploads = "\(app)/storage/tenants/1/app/uploads"
        let saved = dir.appendingPathComponent("saved-uploads").path
        let copy = try Process.run(URL(fileURLWithPath: "/bin/cp"), arguments: ["-a", uploads, saved])  // with the mtimes
        copy.waitUntilExit()
        let tenantDB = "\(app)/database/tenants/velo_tenant_tenant_001.sqlite"
        // The snapshot by id: a killed restore's safety snapshot is the tenant's newest.
        let listed = try JSONParser.parse(try VeloProcess.run(["snapshots", "--repo", repo, "--json"]).stdout).arrayValue ?? []
        let id = try #require(listed.last { "\($0)".contains("velo_tenant_tenant_001") }?["id"]?.stringValue)
        let restore = ["restore", id, "--repo", repo, "--tenant", "tenant-001", "--app", app, "--conflict", "overwrite", "--yes"]
        for (label, point, skip) in [("commit", "velo_tenant_tenant_001.sqlite-journal", 0), ("files", "storage/tenants/1/", 1)] {
            // What the restore must bring back: every upload removed, every post edited.
            try FileManager.default.removeItem(atPath: uploads)
            try Database(path: tenantDB, mode: .readWrite).execute("UPDATE _velo_posts SET title = title || ' (edited)'")
            let run = try Self.killed(restore, at: point, skip: skip)
            #expect(run.status == SIGKILL, "\(label): the restore was not killed (\(run.status)): \(run.stderr)")
            if label == "commit" {
                let placed = (FileManager.default.enumerator(atPath: uploads)?.allObjects as? [String] ?? []).filter {
                    $0.hasSuffix(".png")
                }
                #expect(placed.isEmpty, "\(label): a file was put in place before the commit: \(placed)")
            }
            let again = try VeloProcess.run(restore)
            #expect(again.status == 0, "\(label): \(again.stderr)")
            let rows = try Database(path: tenantDB, mode: .readOnly).scalar("SELECT count(*) FROM _velo_posts WHERE title LIKE '%(edited)'")
            #expect(rows?.int64Value == 0, "\(label): the restore did not complete")
            try AppCommandTests.expectSameFiles(saved, uploads)
            let litter = (FileManager.default.enumerator(atPath: app)?.allObjects as? [String] ?? []).filter {
                $0.contains(".velo-restore-")
            }
            #expect(litter.isEmpty, "\(label): \(litter)")
        }
        #expect(try VeloProcess.run(["verify", "--all", "--repo", repo]).status == 0)
    }

    /// Every front door that writes a file aside and renames it into place removes what a killed earlier run of
    /// it left there: the temporaries below are named as each writer names its own, with the pid of a process
    /// that is gone (2^22 + 1 is above Linux's default pid_max).
    @Test func whatAKilledWriterLeftBesideItsOutputIsRemovedByTheNextRun() throws {
        let s = try Setup()
        func at(_ name: String) -> String { s.dir.appendingPathComponent(name).path }
        let dead = "4194305"
        let cases: [(arguments: [String], litter: [String])] = [
            (["transfer", "export", "--db", s.db, "--out", at("payload.json")], [".payload.json.tmp-\(dead)"]),
            (
                ["transfer", "import", at("payload.json"), "--target", at("imported.sqlite"), "--yes"],
                ["imported.sqlite.velo-import-\(dead)", "imported.sqlite.velo-import-\(dead)-journal"]
            ),
            (["demo", "--out", at("demo.sqlite"), "--posts", "5"], ["demo.sqlite.tmp-\(dead)"]),
            (["plan", "latest", "--repo", s.repo, "--target", s.db, "--out", at("plan.json")], [".plan.json.tmp-\(dead)"]),
            (["status", "--repo", s.repo, "--prometheus", at("velo.prom")], [".velo.prom.tmp-\(dead)"]),
            (["restore", "latest", "--repo", s.repo, "--target", at("new.sqlite")], ["new.sqlite.velo-restore-\(dead)"]),
            (["export", "latest", "--repo", s.repo, "--out", at("export.tar.zst")], [".export.tar.zst.tmp-\(dead)"]),
        ]
        for (arguments, litter) in cases {
            for name in litter { try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: at(name))) }
            let run = try VeloProcess.run(arguments)
            // `status` exits 1 for a repository never verified; its metrics file is written all the same.
            #expect(
                run.status == 0 || (arguments[0] == "status" && FileManager.default.fileExists(atPath: at("velo.prom"))),
                "\(arguments.prefix(2)): \(run.stderr)")
            for name in litter { #expect(!FileManager.default.fileExists(atPath: at(name)), "\(arguments.prefix(2)) left \(name)") }
        }
    }

    /// `velo init` killed after its identity is in place but before its temporary is removed: the next init
    /// finds the repository, completes its layout and removes the temporary.
    @Test func anInitKilledMidwayIsCompletedByTheNext() throws {
        let dir = Scratch.directory()
        let repo = dir.appendingPathComponent("repo").path
        let run = try Self.killed(["init", "--repo", repo], at: "velo-repository.json", skip: 0)
        #expect(run.status == SIGKILL, "init was not killed (\(run.status)): \(run.stderr)")
        let again = try VeloProcess.run(["init", "--repo", repo])
        #expect(again.status == 0, "\(again.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: repo).filter { $0.contains(".tmp-") }
        #expect(left.isEmpty, "\(left)")
        #expect(try VeloProcess.run(["snapshots", "--repo", repo]).status == 0)
    }
}
