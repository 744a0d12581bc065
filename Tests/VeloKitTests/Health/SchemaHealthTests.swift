import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Builds drift with SQL on demo databases and checks what velo finds and fixes.
@Suite struct SchemaHealthTests {
    func demo(_ name: String = #function, posts: Int = 120) throws -> Database {
        try Database(path: try Fixtures.demo(posts: posts, name: name), mode: .readWrite)
    }

    func check(_ db: Database) throws -> SchemaHealth {
        try SchemaHealth.check(db, layout: try TenantDatabase.load(db))
    }

    func kinds(_ health: SchemaHealth) -> [String] { health.findings.map(\.kind) }

    /// Rows of a table with a checksum, in id order: what recovery must keep.
    func fingerprint(_ db: Database, _ table: String, columns: [String]) throws -> (Int, String) {
        var digest = SHA256Digest()
        var count = 0
        try db.prepare("SELECT \(SQL.quoteList(columns)) FROM \(SQL.quote(table)) ORDER BY \"id\"").forEachRow { row in
            count += 1
            let out = ByteBuffer()
            for i in 0..<Int32(columns.count) { RecordEncoder.appendValue(row.value(i), to: out); out.append(0x1F) }
            digest.update(out.bytes)
        }
        return (count, digest.hex())
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.skipMessage))
    func theRealFixtureIsHealthy() throws {
        let health = try check(try Database(path: Fixtures.tenantTest))
        #expect(health.healthy)
        #expect(health.findings.allSatisfy { $0.severity == .warning && $0.kind == "column-nullability" }, "\(health.findings)")
    }

    @Test func aDemoDatabaseHasNoFindings() throws {
        #expect(try check(try demo()).findings.isEmpty)
    }

    @Test func everyKindOfDriftIsFound() throws {
        let db = try demo()
        let pivotIndex = PivotTable.uniqueIndexName(pivot: "_velo_posts_tags_tags_pivot")
        try db.execute(
            """
            ALTER TABLE _velo_posts DROP COLUMN meta;
            ALTER TABLE _velo_posts ADD COLUMN legacy text;
            DROP INDEX _velo_posts_author_index;
            CREATE INDEX _velo_posts_title_index ON _velo_posts (title);
            DROP INDEX "\(pivotIndex)";
            DROP TABLE _velo_comments;
            INSERT INTO schema_jobs (collection_id, operation, table_name, started_at)
                SELECT id, 'update', table_name, '2026-11-01 10:00:00' FROM collections WHERE name = 'tags';
            """)
        let health = try check(db)
        #expect(!health.healthy)
        let found = Set(kinds(health))
        #expect(
            found == ["schema-job", "column-missing", "column-extra", "index-missing", "index-extra", "pivot-malformed", "table-missing"],
            "\(found)")
        #expect(health.findings.first { $0.kind == "column-missing" }?.column == "meta")
        #expect(health.findings.first { $0.kind == "table-missing" }?.collection == "comments")
        #expect(health.findings.first { $0.kind == "schema-job" }?.collection == "tags")
        #expect(health.findings.first { $0.kind == "index-extra" }?.severity == .warning)
    }

    @Test func typesNullabilityAndIndexShapesAreCompared() throws {
        let db = try demo()
        try db.execute(
            """
            CREATE TABLE t (id varchar not null, name text, color varchar, created_at datetime not null default CURRENT_TIMESTAMP, updated_at datetime not null default CURRENT_TIMESTAMP, primary key (id));
            INSERT INTO t SELECT * FROM _velo_tags; DROP TABLE _velo_tags; ALTER TABLE t RENAME TO _velo_tags;
            CREATE INDEX _velo_tags_name_unique ON _velo_tags (name);
            DROP TABLE _velo_posts_tags_tags_pivot;
            """)
        let health = try check(db)
        #expect(health.findings.contains { $0.kind == "column-type" && $0.column == "name" && $0.severity == .error })
        #expect(health.findings.contains { $0.kind == "column-nullability" && $0.column == "name" && $0.severity == .warning })
        #expect(health.findings.contains { $0.kind == "index-different" && $0.index == "_velo_tags_name_unique" })
        #expect(health.findings.contains { $0.kind == "pivot-missing" && $0.table == "_velo_posts_tags_tags_pivot" })
    }

    @Test func longIndexNamesFollowThe64CharacterRule() throws {
        let db = try demo()
        let long = ["published", "created_at", "updated_at", "author", "views", "title"]
        let name = IndexSpec.physicalName(table: "_velo_posts", columns: long, kind: .index)
        #expect(name.utf8.count == 64)
        let indexes =
            #"[{"columns":["author"],"type":"index"},{"columns":["published","created_at"],"type":"index"},{"columns":["published","created_at","updated_at","author","views","title"],"type":"index"}]"#
        try db.execute("UPDATE collections SET indexes = ? WHERE name = 'posts'", [.text(indexes)])
        #expect(kinds(try check(db)) == ["index-missing"])
        try db.execute("CREATE INDEX \(SQL.quote(name)) ON _velo_posts (\(SQL.quoteList(long)))")
        #expect(try check(db).findings.isEmpty)
        // The same index under the naive (uncut) name is not Veloquent's.
        try db.execute(
            "DROP INDEX \(SQL.quote(name)); CREATE INDEX \(SQL.quote("_velo_posts_" + long.joined(separator: "_") + "_index")) ON _velo_posts (\(SQL.quoteList(long)))"
        )
        #expect(Set(kinds(try check(db))) == ["index-missing", "index-extra"])
    }

    @Test func recoverKeepsEveryRowAndMakesTheTableHealthy() throws {
        let db = try demo(posts: 400)
        try db.execute(
            """
            CREATE TABLE p (id varchar not null, title text, body text, published tinyint(1) not null default '0', views float, meta text, cover text, author varchar, created_at datetime not null default CURRENT_TIMESTAMP, updated_at datetime not null default CURRENT_TIMESTAMP, legacy_score integer, primary key (id));
            INSERT INTO p SELECT *, 7 FROM _velo_posts; DROP TABLE _velo_posts; ALTER TABLE p RENAME TO _velo_posts;
            CREATE INDEX my_report_index ON _velo_posts (views);
            INSERT INTO schema_jobs (collection_id, operation, table_name, started_at) SELECT id, 'update', table_name, '2026-11-01' FROM collections WHERE name = 'posts';
            """)
        let columns = ["id", "title", "body", "published", "views", "meta", "cover", "author", "created_at", "updated_at", "legacy_score"]
        let before = try fingerprint(db, "_velo_posts", columns: columns)
        #expect(!(try check(db)).healthy)
        let result = try SchemaRecovery(database: db, layout: try TenantDatabase.load(db), collection: "posts").run(
            dryRun: false, snapshot: nil)
        #expect(result.rowsBefore == 400 && result.rowsAfter == 400)
        let after = try fingerprint(db, "_velo_posts", columns: columns)
        #expect(after == before, "every row and value is kept, the unknown column too")
        let health = try check(db)
        #expect(health.healthy)
        #expect(health.findings.map(\.kind) == ["column-extra"], "\(health.findings)")
        #expect(try db.scalar("SELECT count(*) FROM schema_jobs") == .integer(0))
        #expect(try db.scalar("SELECT count(*) FROM cache WHERE key LIKE '%velo:collection:%'") == .integer(0))
        #expect(
            try db.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'my_report_index'") == .integer(1),
            "indexes that are not Veloquent's stay")
        #expect(try db.scalar("PRAGMA integrity_check") == .text("ok"))
    }

    @Test func recoverRefusesToLoseDataAndChangesNothing() throws {
        let db = try demo()
        // The metadata now says body is required, but some rows have none.
        let fields = try #require(try db.scalar("SELECT fields FROM collections WHERE name = 'posts'")?.stringValue)
        try db.execute(
            "UPDATE collections SET fields = ? WHERE name = 'posts'",
            [
                .text(
                    fields.replacingOccurrences(
                        of: #""name":"body","type":"longtext","order":2,"nullable":true"#,
                        with: #""name":"body","type":"longtext","order":2,"nullable":false"#))
            ])
        try db.execute("UPDATE _velo_posts SET body = NULL WHERE rowid IN (2, 5)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: db.path))
        let recovery = try SchemaRecovery(database: db, layout: try TenantDatabase.load(db), collection: "posts")
        do {
            _ = try recovery.run(dryRun: false, snapshot: nil)
            Issue.record("recovery went ahead")
        } catch let error as VeloError {
            #expect(error.message.contains("column body becomes NOT NULL") && error.message.contains("nothing was changed"), "\(error)")
            let ids = try db.rows("SELECT id FROM _velo_posts WHERE body IS NULL").compactMap { $0[0].stringValue }
            #expect(ids.allSatisfy { error.message.contains($0) } || ids.count > 5)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: db.path)) == bytes)
        // A default does not help rows that hold NULL: they are named too.
        let db3 = try demo("withDefault")
        let fields3 = try #require(try db3.scalar("SELECT fields FROM collections WHERE name = 'posts'")?.stringValue)
        try db3.execute(
            "UPDATE collections SET fields = ? WHERE name = 'posts'",
            [
                .text(
                    fields3.replacingOccurrences(
                        of: #""name":"views","type":"number","order":4,"nullable":true"#,
                        with: #""name":"views","type":"number","order":4,"nullable":false"#
                    )
                    .replacingOccurrences(of: #""allow_decimals":false,"default":null"#, with: #""allow_decimals":false,"default":0"#))
            ])
        #expect(try TenantDatabase.load(db3).collection(named: "posts")?.fields.first { $0.name == "views" }?.sqlDefaultLiteral == "'0'")
        do {
            _ = try SchemaRecovery(database: db3, layout: try TenantDatabase.load(db3), collection: "posts").run(
                dryRun: false, snapshot: nil)
            Issue.record("recovery went ahead")
        } catch let error as VeloError {
            #expect(error.message.contains("column views becomes NOT NULL"), "\(error)")
        }
        // A text value that would become a number is refused too.
        let db2 = try demo("lossy")
        try db2.execute(
            """
            CREATE TABLE p (id varchar not null, title varchar not null, body text, published tinyint(1) not null default '0', views text, meta text, cover text, author varchar, created_at datetime not null default CURRENT_TIMESTAMP, updated_at datetime not null default CURRENT_TIMESTAMP, primary key (id));
            INSERT INTO p SELECT * FROM _velo_posts; DROP TABLE _velo_posts; ALTER TABLE p RENAME TO _velo_posts;
            CREATE INDEX _velo_posts_author_index ON _velo_posts (author); CREATE INDEX _velo_posts_published_created_at_index ON _velo_posts (published, created_at);
            UPDATE _velo_posts SET views = '12' WHERE rowid = 1;
            """)
        #expect(throws: VeloError.self) {
            try SchemaRecovery(database: db2, layout: try TenantDatabase.load(db2), collection: "posts").run(dryRun: true, snapshot: nil)
        }
    }

    @Test func recoverRecreatesAMissingTableAndPivot() throws {
        let db = try demo()
        try db.execute("DROP TABLE _velo_posts_tags_tags_pivot; DROP TABLE _velo_posts")
        let result = try SchemaRecovery(database: db, layout: try TenantDatabase.load(db), collection: "posts").run(
            dryRun: false, snapshot: nil)
        #expect(result.rowsBefore == nil && result.rowsAfter == 0)
        #expect(try check(db).findings.isEmpty)
        #expect(throws: VeloError.self) { try SchemaRecovery(database: db, layout: try TenantDatabase.load(db), collection: "superusers") }
    }
}
