import Foundation
import Testing
import VeloKit

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

@Suite struct RestoreCommandTests {

    @Test func aNewTargetIsADumpIdenticalCopyAndPointInTimePicksTheRightSnapshot() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "150"]).status == 0)
        try Database(path: db, mode: .readWrite).execute(
            "CREATE TABLE awkward (v); INSERT INTO awkward VALUES (x'00ff'), (-0.0), (9223372036854775807), ('a' || char(0) || 'b')")
        let env = ["VELO_DB": db, "VELO_REPO": repo]
        #expect(try VeloProcess.run(["backup", "--include-framework", "--time", "2026-11-01T03:00:00Z"], environment: env).status == 0)
        let sourceDump = try Scratch.dump(db)
        try Database(path: db, mode: .readWrite).execute("DELETE FROM _velo_posts WHERE rowid < 50")
        #expect(try VeloProcess.run(["backup", "--include-framework", "--time", "2026-11-02T03:00:00Z"], environment: env).status == 0)
        // Which snapshot a restore as of a time uses.
        let at = try JSONParser.parse(
            try VeloProcess.run(["snapshots", "--at", "2026-11-01T20:00:00+01:00", "--json"], environment: env).stdout)
        #expect(at.arrayValue?.first?["time"] == .string("2026-11-01T03:00:00Z"))
        let early = try VeloProcess.run(["snapshots", "--at", "2026-10-01T00:00:00Z"], environment: env)
        #expect(early.status == 1 && early.stderr.contains("the oldest is") && early.stderr.contains("2026-11-01T03:00:00Z"))
        let copy = dir.appendingPathComponent("restored.sqlite").path
        let restored = try VeloProcess.run(["restore", "--at", "2026-11-01T23:00:00Z", "--target", copy, "--json"], environment: env)
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try JSONParser.parse(restored.stdout)["created"] == .bool(true))
        #expect(try Scratch.dump(copy) == sourceDump)
    }

    @Test func aStalePlanIsRefusedAndBadTargetsAreNamed() throws {
        let dir = Scratch.directory()
        let db = dir.appendingPathComponent("tenant.sqlite").path
        let repo = dir.appendingPathComponent("repo").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "60"]).status == 0)
        #expect(try VeloProcess.run(["backup", "--db", db, "--repo", repo]).status == 0)
        try Database(path: db, mode: .readWrite).execute("DELETE FROM _velo_posts WHERE rowid < 10")
        let planFile = dir.appendingPathComponent("plan.json").path
        let plan = try VeloProcess.run(["plan", "latest", "--repo", repo, "--target", db, "--out", planFile])
        #expect(plan.status == 0 && plan.stdout.contains("9 to insert"), "\(plan.stdout)")
        let mode = (try FileManager.default.attributesOfItem(atPath: planFile)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600, "a saved plan is written like the repository's files")
        try Database(path: db, mode: .readWrite).execute(
            "UPDATE _velo_posts SET title = 'edited', updated_at = '2031-01-01 00:00:00' WHERE rowid = 20")
        let unconfirmed = try VeloProcess.run(["restore", "latest", "--repo", repo, "--target", db, "--plan", planFile])
        #expect(unconfirmed.status == 1 && unconfirmed.stderr.contains("--yes"))
        let stale = try VeloProcess.run(["restore", "latest", "--repo", repo, "--target", db, "--plan", planFile, "--yes"])
        #expect(stale.status == 1 && stale.stderr.contains("the saved plan is stale"), "\(stale.stderr)")
        // A fresh plan goes through, and exactly as planned.
        #expect(try VeloProcess.run(["plan", "latest", "--repo", repo, "--target", db, "--out", planFile]).status == 0)
        let done = try VeloProcess.run(["restore", "latest", "--repo", repo, "--target", db, "--plan", planFile, "--json", "--yes"])
        #expect(done.status == 0, "\(done.stderr)")
        #expect(try JSONParser.parse(done.stdout)["records"]?["_velo_posts"]?["inserted"] == .int(9))
        // Targets that cannot be restored into.
        let text = dir.appendingPathComponent("notes.sqlite").path
        try "notes".write(toFile: text, atomically: true, encoding: .utf8)
        let notSQLite = try VeloProcess.run(["restore", "latest", "--repo", repo, "--target", text, "--yes"])
        #expect(notSQLite.status == 1 && notSQLite.stderr.contains("not an SQLite database"))
        let writer = try Database(path: db, mode: .readWrite)
        try writer.execute("BEGIN IMMEDIATE")
        let locked = try VeloProcess.run(["restore", "latest", "--repo", repo, "--target", db, "--busy-timeout", "0.2", "--yes"])
        try writer.execute("ROLLBACK")
        #expect(locked.status == 1 && locked.stderr.contains("write lock"), "\(locked.stderr)")
    }
}
