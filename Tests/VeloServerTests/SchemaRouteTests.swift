import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloServer
@testable import VeloStorage

/// Veloquent's `SchemaRecoveryControllerTest.php` and `SchemaCorruptionTest.php` over HTTP, with velo's
/// differences: recovery is lossless (nothing is dropped with its rows), drift is found without a marker, and
/// everything that changes the database is snapshotted first.
@Suite struct SchemaRouteTests {
    /// `it lists corrupt collections with their respective schema jobs`.
    @Test func listsCorruptCollectionsWithTheirSchemaJobs() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let id = try #require(try server.scalar("SELECT id FROM collections WHERE name = 'posts'")?.stringValue)
        try server.sql(
            "INSERT INTO schema_jobs (collection_id, operation, table_name, started_at, created_at, updated_at) VALUES ('\(id)', 'create', 'corrupt_table', '2026-11-01 10:00:00', '2026-11-01 10:00:00', '2026-11-01 10:00:00')"
        )
        let token = try await server.login()
        let reply = try await server.request("GET", "/api/schema/corrupt", token: token)
        #expect(reply.status == 200)
        let entries = try #require(reply.data?.arrayValue)
        #expect(entries.count == 1)
        #expect(entries[0]["collection"]?["name"]?.stringValue == "posts")
        #expect(entries[0]["operation"]?.stringValue == "create")
        #expect(entries[0]["table_name"]?.stringValue == "corrupt_table")
        #expect(entries[0]["collection_id"]?.stringValue == id)
        #expect(entries[0]["started_at"]?.intValue == 1_793_527_200)
        #expect(entries[0]["collection"]?["fields"]?.arrayValue != nil)  // decoded, as Eloquent serializes it
        #expect(entries[0]["findings"]?.arrayValue != nil)
    }

    @Test func aHealthyDatabaseHasNothingCorrupt() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let reply = try await server.request("GET", "/api/schema/corrupt", token: try await server.login())
        #expect(reply.status == 200)
        #expect(reply.data == .array([]))
    }

    /// velo also reports drift no marker records, so the admin UI shows it and can recover it.
    @Test func driftWithoutAMarkerIsAnEntryWithFindings() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        try server.sql("DROP INDEX IF EXISTS _velo_tags_name_unique; ALTER TABLE _velo_tags DROP COLUMN name")
        let token = try await server.login()
        let entries = try #require(try await server.request("GET", "/api/schema/corrupt", token: token).data?.arrayValue)
        let drift = try #require(entries.first { $0["collection"]?["name"]?.stringValue == "tags" })
        #expect(drift["operation"]?.stringValue == "drift")
        #expect(drift["table_name"]?.stringValue == "_velo_tags")
        let kinds = drift["findings"]?.arrayValue?.compactMap { $0["kind"]?.stringValue } ?? []
        #expect(kinds.contains("column-missing"))
    }

    /// `it recovers from failed update by rebuilding the table`, without losing the other tables' rows, and
    /// with a snapshot of the collection first.
    @Test func recoversFromAFailedUpdateByRebuildingTheTable() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let id = try #require(try server.scalar("SELECT id FROM collections WHERE name = 'comments'")?.stringValue)
        try server.sql(
            "INSERT INTO schema_jobs (collection_id, operation, table_name, started_at) VALUES ('\(id)', 'update', '_velo_comments', '2026-11-01 10:00:00'); DROP TABLE _velo_comments"
        )
        #expect(try !server.hasTable("_velo_comments"))
        let token = try await server.login()
        let reply = try await server.request("POST", "/api/collections/\(id)/recover", token: token)
        #expect(reply.status == 200)
        #expect(reply.message == "Collection schema recovered successfully.")
        #expect(try server.hasTable("_velo_comments"))
        #expect(try server.scalar("SELECT count(*) FROM schema_jobs WHERE collection_id = '\(id)'")?.int64Value == 0)
        let snapshot = try #require(reply.data?["snapshot"]?.stringValue)
        let list = try await server.request("GET", "/api/backups", token: token)
        #expect(
            list.data?.arrayValue?.contains { $0["id"]?.stringValue == snapshot && $0["tags"] == .array([.string("pre-recover")]) } == true)
        #expect(try await server.request("GET", "/api/schema/corrupt", token: token).data == .array([]))
    }

    /// A drifted table with rows is recovered by name, every row kept.
    @Test func recoverKeepsEveryRow() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let rows = try #require(try server.scalar("SELECT count(*) FROM _velo_posts")?.int64Value)
        try server.sql("DROP INDEX IF EXISTS _velo_posts_author_index")
        let token = try await server.login()
        let reply = try await server.request("POST", "/api/collections/posts/recover", token: token)
        #expect(reply.status == 200)
        #expect(try server.scalar("SELECT count(*) FROM _velo_posts")?.int64Value == rows)
        #expect(reply.data?["rows_before"]?.intValue == Int(rows))
    }

    /// `it recovers from failed create`: Veloquent drops the half-made table and deletes the collection; velo
    /// loses nothing: the collection's table is made from its metadata, the marker removed, and the half-made
    /// table is left as an orphan (listed, and dropped only with a snapshot).
    @Test func recoversFromAFailedCreateWithoutDroppingAnything() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let id = "01kqzzzzzzzzzzzzzzzzzzzzzz"
        try server.sql(
            """
            INSERT INTO collections (id, type, is_system, name, description, table_name, fields, api_rules, indexes, options, created_at, updated_at)
              SELECT '\(id)', type, 0, 'failed_create', '', '_velo_failed_create', '[]', api_rules, '[]', options, created_at, updated_at FROM collections WHERE name = 'tags';
            INSERT INTO schema_jobs (collection_id, operation, table_name, started_at) VALUES ('\(id)', 'create', '_velo_failed_create_tmp', '2026-11-01 10:00:00');
            CREATE TABLE _velo_failed_create_tmp (id INTEGER PRIMARY KEY)
            """)
        let token = try await server.login()
        let corrupt = try #require(try await server.request("GET", "/api/schema/corrupt", token: token).data?.arrayValue)
        #expect(corrupt.contains { $0["collection_id"]?.stringValue == id && $0["operation"]?.stringValue == "create" })
        let reply = try await server.request("POST", "/api/collections/\(id)/recover", token: token)
        #expect(reply.status == 200)
        #expect(try server.hasTable("_velo_failed_create"))
        #expect(try server.scalar("SELECT count(*) FROM schema_jobs WHERE collection_id = '\(id)'")?.int64Value == 0)
        let orphans = try await server.request("GET", "/api/schema/orphans", token: token)
        #expect(orphans.data == .array([.string("_velo_failed_create_tmp")]))
    }

    @Test func recoverAnswersUnknownSystemAndNoRepository() async throws {
        let server = try await TestServer(repository: false)
        defer { Task { await server.stop() } }
        let token = try await server.login()
        let unknown = try await server.request("POST", "/api/collections/nope/recover", token: token)
        #expect(unknown.status == 404)
        let system = try await server.request("POST", "/api/collections/superusers/recover", token: token)
        #expect(system.status == 403)
        // Without a repository nothing is recovered without a backup.
        try server.sql("DROP INDEX IF EXISTS _velo_posts_author_index")
        let refused = try await server.request("POST", "/api/collections/posts/recover", token: token)
        #expect(refused.status == 422)
        #expect(refused.message?.contains("needs a snapshot repository first") == true)
        #expect(refused.json?["errors"] == .null)
        let entries = try await server.request("GET", "/api/schema/corrupt", token: token).data?.arrayValue ?? []
        #expect(entries.contains { $0["collection"]?["name"]?.stringValue == "posts" })
    }

    /// `it lists orphan tables`, `it drops a specific orphan table`, `it drops all orphan tables`; pivot tables
    /// are not orphans, and each drop is snapshotted first.
    @Test func listsAndDropsOrphanTables() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        try server.sql(
            "CREATE TABLE _velo_orphan_table (id INTEGER PRIMARY KEY); INSERT INTO _velo_orphan_table VALUES (1); CREATE TABLE _velo_orphan_to_drop (id INTEGER PRIMARY KEY); CREATE TABLE _velo_orphan2 (id INTEGER PRIMARY KEY)"
        )
        let token = try await server.login()
        let list = try await server.request("GET", "/api/schema/orphans", token: token)
        #expect(list.status == 200)
        let names = Set(list.data?.arrayValue?.compactMap(\.stringValue) ?? [])
        #expect(names == ["_velo_orphan_table", "_velo_orphan_to_drop", "_velo_orphan2"])  // no pivot table
        let one = try await server.request("DELETE", "/api/schema/orphans/_velo_orphan_to_drop", token: token)
        #expect(one.status == 200)
        #expect(one.message == "Orphan table '_velo_orphan_to_drop' dropped successfully.")
        #expect(try !server.hasTable("_velo_orphan_to_drop"))
        #expect(one.data?["snapshot"]?.stringValue != nil)
        // A table that is not an orphan is refused, not dropped.
        let pivot = try #require(
            try server.scalar("SELECT name FROM sqlite_master WHERE name LIKE '%pivot%' AND type = 'table'")?.stringValue)
        let refused = try await server.request("DELETE", "/api/schema/orphans/\(pivot)", token: token)
        #expect(refused.status == 422)
        #expect(try server.hasTable(pivot))
        let all = try await server.request("DELETE", "/api/schema/orphans", token: token)
        #expect(all.status == 200)
        #expect(all.message == "All orphan tables dropped successfully.")
        #expect(try !server.hasTable("_velo_orphan_table"))
        #expect(try !server.hasTable("_velo_orphan2"))
        // The dropped rows are in the snapshot.
        let snapshot = try #require(all.data?["snapshot"]?.stringValue)
        let inspect = try await server.request("GET", "/api/backups/\(snapshot)", token: token)
        #expect(inspect.status == 200)
        #expect(String(decoding: inspect.body, as: UTF8.self).contains("_velo_orphan_table"))
        #expect(try await server.request("GET", "/api/schema/orphans", token: token).data == .array([]))
    }
}
