import Foundation
import Testing
import VeloKit

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

@Suite struct SchemaCommandTests {
    func demo(_ name: String = #function) throws -> (db: String, dir: URL) {
        let dir = Scratch.directory(name)
        let db = dir.appendingPathComponent("t.sqlite").path
        #expect(try VeloProcess.run(["demo", "--out", db, "--posts", "80"]).status == 0)
        return (db, dir)
    }

    @Test func corruptExitsThreeAndRecoverFixesWithASnapshotFirst() throws {
        let (db, dir) = try demo()
        let healthy = try VeloProcess.run(["schema", "corrupt", "--db", db])
        #expect(healthy.status == 0 && healthy.stdout.contains("healthy"))
        try Database(path: db, mode: .readWrite).execute(
            "DROP INDEX _velo_posts_author_index; INSERT INTO schema_jobs (collection_id, operation, table_name, started_at) SELECT id, 'update', table_name, '2026-11-01' FROM collections WHERE name = 'posts'"
        )
        let sick = try VeloProcess.run(["schema", "corrupt", "--db", db, "--json"])
        #expect(sick.status == 3)
        let report = try JSONParser.parse(sick.stdout)
        #expect(report["healthy"] == .bool(false))
        #expect(report["findings"]?.arrayValue?.compactMap { $0["kind"]?.stringValue }.sorted() == ["index-missing", "schema-job"])
        let unsafe = try VeloProcess.run(["schema", "recover", "posts", "--db", db])
        #expect(unsafe.status == 1 && unsafe.stderr.contains("--repo"))
        let dry = try VeloProcess.run(["schema", "recover", "posts", "--db", db, "--dry-run"])
        #expect(
            dry.status == 0 && dry.stdout.contains(#"create index "_velo_posts_author_index" on "_velo_posts" ("author");"#),
            "\(dry.stdout)")
        #expect(try VeloProcess.run(["schema", "corrupt", "--db", db]).status == 3, "a dry run changes nothing")
        let repo = dir.appendingPathComponent("repo").path
        let fixed = try VeloProcess.run(["schema", "recover", "posts", "--db", db, "--repo", repo, "--json"])
        #expect(fixed.status == 0, "\(fixed.stderr)")
        let result = try JSONParser.parse(fixed.stdout)
        #expect(result["rows_before"] == .int(80) && result["rows_after"] == .int(80))
        let snapshot = try #require(result["snapshot"]?.stringValue)
        let list = try JSONParser.parse(try VeloProcess.run(["snapshots", "--repo", repo, "--json"]).stdout).arrayValue ?? []
        #expect(list.first?["id"] == .string(snapshot) && list.first?["tags"] == .array([.string("pre-recover")]))
        #expect(try VeloProcess.run(["schema", "corrupt", "--db", db]).status == 0)
    }

    @Test func orphansAreListedAndDroppedOnlyWithYesAfterASnapshot() throws {
        let (db, dir) = try demo()
        try Database(path: db, mode: .readWrite).execute(
            "CREATE TABLE _velo_old (id varchar, note text); INSERT INTO _velo_old VALUES ('1', 'keep me')")
        let list = try JSONParser.parse(try VeloProcess.run(["schema", "orphans", "--db", db, "--json"]).stdout).arrayValue ?? []
        #expect(list.compactMap { $0["table"]?.stringValue } == ["_velo_old"])
        let repo = dir.appendingPathComponent("repo").path
        let noYes = try VeloProcess.run(["schema", "orphans", "--db", db, "--drop", "_velo_old", "--repo", repo])
        #expect(noYes.status == 1 && noYes.stderr.contains("--yes"))
        let pivot = try VeloProcess.run(["schema", "orphans", "--db", db, "--drop", "_velo_posts_tags_tags_pivot", "--yes", "--repo", repo])
        #expect(
            pivot.status == 1 && pivot.stderr.contains("is not an orphan: it is the pivot table of field posts.tags"), "\(pivot.stderr)")
        let drop = try VeloProcess.run(["schema", "orphans", "--db", db, "--drop-all", "--yes", "--repo", repo, "--json"])
        #expect(drop.status == 0, "\(drop.stderr)")
        let snapshot = try #require(try JSONParser.parse(drop.stdout)["snapshot"]?.stringValue)
        let cat = try VeloProcess.run(["cat", "--repo", repo, snapshot, "_velo_old"])
        #expect(cat.stdout == #"{"id":"1","note":"keep me"}"# + "\n")
        #expect(try VeloProcess.run(["schema", "orphans", "--db", db]).stdout.contains("no orphan tables"))
    }
}
