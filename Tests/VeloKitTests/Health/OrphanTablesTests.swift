import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct OrphanTablesTests {
    @Test func pivotTablesAreNeverOrphansAndOrphansAreSnapshottedBeforeTheyAreDropped() throws {
        let path = try Fixtures.demo(posts: 50)
        let db = try Database(path: path, mode: .readWrite)
        try db.execute(
            """
            CREATE TABLE "_velo_old_drafts" ("id" varchar not null, "body" text, "score" float, primary key ("id"));
            INSERT INTO _velo_old_drafts VALUES ('a', 'first draft', 1.5), ('b', x'00ff', NULL);
            CREATE TABLE "_velo_scratch" ("n" integer);
            """)
        let orphans = try OrphanTables.list(db, layout: try TenantDatabase.load(db))
        #expect(orphans.map(\.table) == ["_velo_old_drafts", "_velo_scratch"])
        #expect(orphans.first?.rows == 2)
        let repo = try Repository.open(Fixtures.temporaryDirectory().appendingPathComponent("repo").path, create: true)
        // A pivot table (Veloquent's own check calls it an orphan) and a collection table are refused.
        for table in ["_velo_posts_tags_tags_pivot", "_velo_posts", "settings"] {
            #expect(throws: VeloError.self) {
                try OrphanTables.drop([table], databasePath: path, repository: repo, busyTimeout: .seconds(1))
            }
        }
        #expect(try repo.catalog.entries().isEmpty, "nothing is snapshotted or dropped when a table is refused")
        let original = try db.rows("SELECT * FROM _velo_old_drafts ORDER BY rowid")
        let dropped = try OrphanTables.drop(["_velo_old_drafts"], databasePath: path, repository: repo, busyTimeout: .seconds(1))
        #expect(try TenantDatabase.load(db).schema.table("_velo_old_drafts") == nil)
        #expect(try TenantDatabase.load(db).schema.table("_velo_posts_tags_tags_pivot") != nil)
        // The snapshot holds the DDL and the rows: the table can be rebuilt from it exactly.
        let reader = try SnapshotReader(path: dropped.archive)
        #expect(reader.header.tags == ["pre-drop"])
        var ddl: String?
        var rows: [[RecordValue]] = []
        try reader.scan(schema: { line in
            let row = try RecordDecoder.decode(line)
            if row[1] == .text(Array("_velo_old_drafts".utf8)), case .text(let sql) = row[3] { ddl = String(decoding: sql, as: UTF8.self) }
        }) { table, line in
            if table.name == "_velo_old_drafts" { rows.append(try RecordDecoder.decode(line)) }
            return true
        }
        let restored = try Database(path: Fixtures.temporaryDirectory().appendingPathComponent("r.sqlite").path, mode: .create)
        try restored.execute(try #require(ddl))
        let insert = try restored.prepare("INSERT INTO _velo_old_drafts VALUES (?, ?, ?)")
        for row in rows {
            insert.reset()
            for (i, value) in row.enumerated() { try value.bind(to: insert, at: Int32(i + 1)) }
            try insert.step()
        }
        let back = try restored.rows("SELECT * FROM _velo_old_drafts ORDER BY rowid")
        #expect(back.count == original.count)
        for (a, b) in zip(original, back) { #expect(zip(a, b).allSatisfy { $0.isIdentical(to: $1) }) }
    }
}
