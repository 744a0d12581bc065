import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The cases of Veloquent's `tests/Feature/SchemaTransferTest.php`, each reproduced against velo, then what velo
/// does better.
@Suite struct PayloadImporterTests {
    typealias F = TransferFixtures

    @Test func optionsExcludeSystemCollections() throws {
        let dir = Fixtures.temporaryDirectory()
        let db = try F.emptyTenant(in: dir)
        try F.create([F.collection("posts"), F.collection("system_logs", system: true)], in: db, dir: dir)
        let options = PayloadExporter.options(try TenantDatabase.load(try Database(path: db)))
        let names = options["collections"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names.contains("posts"))
        #expect(!names.contains("system_logs") && !names.contains("superusers"))
        #expect(names == names.sorted())
        #expect(options["collections"]?.arrayValue?.first?.objectValue?.map(\.0) == ["id", "name", "table_name", "is_system"])
        #expect(options["system_tables"] == .array(SystemTables.transferAllowList.map { .string($0) }))
    }

    @Test func exportKeepsTargetCollectionIDOfRelationFields() throws {
        let dir = Fixtures.temporaryDirectory()
        let db = try F.emptyTenant(in: dir)
        try F.create([F.collection("posts", rules: F.rules("id = id"))], in: db, dir: dir)
        let posts = try #require(try F.collection("posts", in: db))
        try F.create(
            [F.collection("comments", fields: [F.field("post", "relation", [("target_collection_id", .string(posts.id))])])], in: db,
            dir: dir)
        let export = try F.export(db, in: dir, collections: ["comments"], records: false).json
        let comments = try #require(export["metadata"]?["collections"]?.arrayValue?.first { $0["name"] == .string("comments") })
        let post = try #require(comments["fields"]?.arrayValue?.first { $0["name"] == .string("post") })
        #expect(post["target_collection_id"] == .string(posts.id))
        #expect(post["target_collection_name"] == nil)
        #expect(export["records"] == nil)
    }

    @Test func importOfARelationFieldWarns() throws {
        let dir = Fixtures.temporaryDirectory()
        let db = try F.emptyTenant(in: dir)
        let payload = try F.write(
            F.metadataPayload([
                F.collection(
                    "comments",
                    fields: [
                        F.field("post", "relation", [("target_collection_id", .string("some-uuid-from-other-env"))])
                    ], rules: F.rules("id = id"))
            ]), in: dir)
        let outcome = try F.importPayload(payload, into: db)
        let row = try #require(outcome.result.metadata.first)
        #expect(row.action == "created")
        #expect(row.warning == "Collection has relation fields that may need to be reconfigured for this environment.")
        #expect(outcome.result.json["metadata"]?.arrayValue?.first?.objectValue?.map(\.0) == ["collection", "action", "warning"])
        #expect(JSONWriter.string(outcome.result.json).hasSuffix(#""records":[]}"#))
    }

    @Test func overwriteMergesTheReservedFieldsOfAnAuthCollection() throws {
        let dir = Fixtures.temporaryDirectory()
        let db = try F.emptyTenant(in: dir)
        try F.create([F.collection("custom_auth", type: "auth", rules: F.rules("id = id", manage: true))], in: db, dir: dir)
        let payload = try F.write(
            F.metadataPayload([
                F.collection(
                    "custom_auth", type: "auth", fields: [F.field("bio", "text")],
                    rules: F.rules("id = id", manage: true))
            ]), in: dir)
        let outcome = try F.importPayload(payload, into: db, conflict: .overwrite)
        #expect(outcome.result.metadata.first?.action == "updated")
        let names = try #require(try F.collection("custom_auth", in: db)).fields.map(\.name)
        #expect(names.contains("bio") && names.contains("email") && names.contains("password"))
        let columns = try Database(path: db).rows("SELECT name FROM pragma_table_info('_velo_custom_auth')").compactMap {
            $0.first?.stringValue
        }
        #expect(columns.contains("bio") && columns.contains("email") && columns.contains("password"))
    }

    @Test func apiRulesAreAppliedEvenUnderSkip() throws {
        let dir = Fixtures.temporaryDirectory()
        let db = try F.emptyTenant(in: dir)
        try F.create([F.collection("test", rules: F.rules("id != id"))], in: db, dir: dir)
        let payload = try F.write(F.metadataPayload([F.collection("test", rules: F.rules("id = id"))]), in: dir)
        let outcome = try F.importPayload(payload, into: db, conflict: .skip)
        #expect(outcome.result.metadata.first?.action == "skipped")
        #expect(try F.collection("test", in: db)?.apiRules?["list"] == .string("id = id"))
    }

    @Test func apiRulesAreAppliedWithoutLinting() throws {
        let dir = Fixtures.temporaryDirectory()
        let db = try F.emptyTenant(in: dir)
        var rules = F.rules("id = id").objectValue!
        rules[0].1 = .string("author_id = @user.id")
        let payload = try F.write(F.metadataPayload([F.collection("articles", rules: .object(rules))]), in: dir)
        try F.importPayload(payload, into: db)
        let articles = try #require(try F.collection("articles", in: db))
        #expect(articles.apiRules?["list"] == .string("author_id = @user.id"))
        #expect(articles.apiRules?.objectValue?.map(\.0) == ["list", "view", "create", "update", "delete", "manage"])
    }

    /// Source with posts and comments (relation or relation_many to posts), exported, imported into a new place.
    func remapped(_ type: String, field: String) throws {
        let dir = Fixtures.temporaryDirectory("remap\(type)")
        let source = try F.emptyTenant(in: dir, name: "a.sqlite")
        try F.create([F.collection("posts")], in: source, dir: dir)
        let posts = try #require(try F.collection("posts", in: source))
        try F.create(
            [F.collection("comments", fields: [F.field(field, type, [("target_collection_id", .string(posts.id))])])], in: source, dir: dir)
        let export = try F.export(source, in: dir, collections: ["posts", "comments"], records: false)
        let target = try F.emptyTenant(in: dir, name: "b.sqlite")
        try F.importPayload(export.path, into: target)
        let newPosts = try #require(try F.collection("posts", in: target))
        #expect(newPosts.id != posts.id)
        let relation = try #require(try F.collection("comments", in: target)?.fields.first { $0.name == field })
        #expect(relation.targetCollectionID == newPosts.id)
    }

    @Test func targetCollectionIDIsRemappedForRelationFields() throws { try remapped("relation", field: "post") }

    @Test func targetCollectionIDIsRemappedForRelationManyFields() throws { try remapped("relation_many", field: "post_list") }

    @Test func relationManyFieldsAndTheirPivotRecordsRoundTrip() throws {
        let dir = Fixtures.temporaryDirectory()
        let source = try F.emptyTenant(in: dir, name: "a.sqlite")
        try F.create([F.collection("tags", fields: [F.field("title", "text")], rules: F.rules("id = id"))], in: source, dir: dir)
        let tags = try #require(try F.collection("tags", in: source))
        try F.create(
            [F.collection("posts", fields: [F.field("tag_list", "relation_many", [("target_collection_id", .string(tags.id))])])],
            in: source, dir: dir)
        let pivot = PivotTable.name("posts", "tags", field: "tag_list")
        let db = try Database(path: source, mode: .readWrite)
        try db.execute(
            """
            INSERT INTO _velo_tags (id, title) VALUES ('01aaaaaaaaaaaaaaaaaaaaaaaa', 'Laravel'), ('01bbbbbbbbbbbbbbbbbbbbbbbb', 'PHP');
            INSERT INTO _velo_posts (id) VALUES ('01cccccccccccccccccccccccc');
            INSERT INTO \(SQL.quote(pivot)) (id, source_id, target_id) VALUES ('01DDDDDDDDDDDDDDDDDDDDDDDD', '01cccccccccccccccccccccccc', '01aaaaaaaaaaaaaaaaaaaaaaaa'),
                ('01EEEEEEEEEEEEEEEEEEEEEEEE', '01cccccccccccccccccccccccc', '01bbbbbbbbbbbbbbbbbbbbbbbb');
            """)
        let export = try F.export(source, in: dir, collections: ["posts", "tags"])
        #expect(export.json["records"]?.objectValue?.map(\.0) == ["_velo_posts", pivot, "_velo_tags"])
        let target = try F.emptyTenant(in: dir, name: "b.sqlite")
        let outcome = try F.importPayload(export.path, into: target)
        #expect(outcome.result.counts(pivot) == .init(inserted: 2))
        let newTags = try #require(try F.collection("tags", in: target))
        #expect(newTags.id != tags.id)
        #expect(try F.collection("posts", in: target)?.fields.first { $0.name == "tag_list" }?.targetCollectionID == newTags.id)
        #expect(try Database(path: target).scalar("SELECT count(*) FROM \(SQL.quote(pivot))") == .integer(2))
    }

    @Test func aTimestampFieldIsImportedAsDatetime() throws {
        let dir = Fixtures.temporaryDirectory()
        let db = try F.emptyTenant(in: dir)
        let payload = try F.write(F.metadataPayload([F.collection("events", fields: [F.field("occurred_at", "timestamp")])]), in: dir)
        let outcome = try F.importPayload(payload, into: db)
        #expect(outcome.result.metadata.first?.action == "created")
        let field = try #require(try F.collection("events", in: db)?.fields.first { $0.name == "occurred_at" })
        #expect(field.raw["type"] == .string("datetime"))
        #expect(
            try Database(path: db).scalar("SELECT type FROM pragma_table_info('_velo_events') WHERE name = 'occurred_at'")
                == .text("datetime"))
    }

    // MARK: What velo does better

    @Test func jsonColumnsComeBackAsTheSameTextAndSystemRowsFollowTheCollectionIDs() throws {
        let dir = Fixtures.temporaryDirectory()
        let source = try Fixtures.demo(posts: 30, name: "jsonSource")
        let meta = #"{"a":[1,2.5,"x\/y"],"b":{"c":null}}"#
        try Database(path: source, mode: .readWrite).execute("UPDATE _velo_posts SET meta = '\(meta)' WHERE rowid = 1")
        let export = try F.export(source, in: dir, systemTables: ["oauth_providers", "email_templates"])
        let target = dir.appendingPathComponent("new.sqlite").path
        let outcome = try F.importPayload(export.path, into: target)
        #expect(outcome.committed && outcome.created)
        let db = try Database(path: target)
        #expect(try db.scalar("SELECT meta FROM _velo_posts WHERE id = (SELECT id FROM _velo_posts ORDER BY rowid LIMIT 1)") == .text(meta))
        let ids = Set(try F.collections(target).map(\.id))
        for table in ["oauth_providers", "email_templates"] {
            let refs = try db.rows("SELECT DISTINCT collection_id FROM \(table)").compactMap { $0.first?.stringValue }
            #expect(!refs.isEmpty && refs.allSatisfy(ids.contains), "\(table) \(refs)")
        }
        #expect(try db.rows("PRAGMA foreign_key_check").isEmpty)
    }

    @Test func anOverwriteThatWouldDropAColumnWithDataIsBlocked() throws {
        let dir = Fixtures.temporaryDirectory()
        let db = try F.emptyTenant(in: dir)
        try F.create([F.collection("notes", fields: [F.field("body", "text", [("nullable", .bool(true))])])], in: db, dir: dir)
        try Database(path: db, mode: .readWrite).execute(
            "INSERT INTO _velo_notes (id, body) VALUES ('01aaaaaaaaaaaaaaaaaaaaaaaa', 'keep me')")
        let before = F.bytes(db)
        let payload = try F.write(
            F.metadataPayload([F.collection("notes", fields: [F.field("title", "text", [("nullable", .bool(true))])])]), in: dir)
        let outcome = try F.importPayload(payload, into: db, conflict: .overwrite)
        #expect(!outcome.committed && !outcome.result.canProceed)
        #expect(outcome.result.blockers.first?.message.contains("would drop column body") == true)
        #expect(F.bytes(db) == before)
        // Without data the column goes, and a field that keeps its id is a rename that keeps the values.
        try Database(path: db, mode: .readWrite).execute("UPDATE _velo_notes SET body = NULL")
        try F.importPayload(payload, into: db, conflict: .overwrite)
        let columns = try Database(path: db).rows("SELECT name FROM pragma_table_info('_velo_notes')").compactMap { $0.first?.stringValue }
        #expect(columns == ["id", "title", "created_at", "updated_at"])
    }

    @Test func aRenamedFieldKeepsItsValuesUnderOverwrite() throws {
        let dir = Fixtures.temporaryDirectory()
        let db = try F.emptyTenant(in: dir)
        try F.create(
            [F.collection("notes", fields: [F.field("body", "text", [("id", .string("0000abcd")), ("nullable", .bool(true))])])], in: db,
            dir: dir)
        try Database(path: db, mode: .readWrite).execute(
            "INSERT INTO _velo_notes (id, body) VALUES ('01aaaaaaaaaaaaaaaaaaaaaaaa', 'keep me')")
        let payload = try F.write(
            F.metadataPayload([
                F.collection("notes", fields: [F.field("text", "longtext", [("id", .string("0000abcd")), ("nullable", .bool(true))])])
            ]), in: dir)
        let outcome = try F.importPayload(payload, into: db, conflict: .overwrite)
        #expect(outcome.committed)
        #expect(try Database(path: db).scalar("SELECT text FROM _velo_notes") == .text("keep me"))
    }

    @Test func aPayloadOfAnOlderVeloquentWithRecordsCollectionsImports() throws {
        let dir = Fixtures.temporaryDirectory()
        let db = try F.emptyTenant(in: dir)
        let legacyRow: JSONValue = .object([
            ("id", .string("01oldoldoldoldoldoldoldold")), ("type", .string("base")), ("is_system", .int(0)), ("name", .string("notes")),
            ("table_name", .string("_velo_notes")), ("description", .null),
            (
                "fields",
                .string(
                    #"[{"id":"1234abcd","name":"body","type":"text","order":1,"nullable":true,"unique":false,"min":null,"max":null,"default":null}]"#
                )
            ),
            ("api_rules", .string(#"{"list":"","view":""}"#)), ("indexes", .string("[]")), ("options", .string("[]")),
            ("schema_updated_at", .null), ("created_at", .string("2026-04-01 10:00:00")), ("updated_at", .string("2026-04-01 10:00:00")),
        ])
        let payload = try F.write(
            .object([
                ("version", .int(1)), ("exported_at", .string("2026-04-20T10:00:00+00:00")),
                ("metadata", .object([("collections", .array([]))])),
                ("records", .object([("collections", .array([legacyRow]))])),
            ]), in: dir)
        let outcome = try F.importPayload(payload, into: db)
        #expect(outcome.committed)
        #expect(outcome.result.counts("collections") == .init(inserted: 1))
        let notes = try #require(try F.collection("notes", in: db))
        #expect(notes.fields.map(\.name).contains("body"))
        #expect(notes.apiRules?["list"] == .string(""))
    }

    @Test func aFieldTypeVeloDoesNotKnowIsKeptAsIs() throws {
        let dir = Fixtures.temporaryDirectory()
        let db = try F.emptyTenant(in: dir)
        let odd = F.field("location", "geopoint", [("id", .string("99998888")), ("precision", .int(6))])
        let payload = try F.write(
            .object([
                ("version", .int(1)),
                ("metadata", .object([("collections", .array([F.collection("places", fields: [odd])]))])),
                (
                    "records",
                    .object([
                        (
                            "_velo_places",
                            .array([.object([("id", .string("01aaaaaaaaaaaaaaaaaaaaaaaa")), ("location", .string("52.1,4.3"))])])
                        )
                    ])
                ),
            ]), in: dir)
        let outcome = try F.importPayload(payload, into: db)
        #expect(outcome.committed, "\(outcome.result.findings.map(\.message))")
        let field = try #require(try F.collection("places", in: db)?.fields.first { $0.name == "location" })
        #expect(field.raw == odd.objectValue.map { pairs in JSONValue.object(pairs) })
        #expect(try Database(path: db).scalar("SELECT location FROM _velo_places") == .text("52.1,4.3"))
    }

    @Test func aFailureInjectedMidImportLeavesTheTargetByteIdentical() throws {
        let dir = Fixtures.temporaryDirectory()
        let source = try Fixtures.demo(posts: 120, name: "failSource")
        let export = try F.export(source, in: dir)
        let target = try F.emptyTenant(in: dir)
        // The plan passes (the hook only runs in the committing run), then the import fails half way.
        #expect(try F.importPayload(export.path, into: target, dryRun: true).result.canProceed)
        let before = F.bytes(target)
        struct Injected: Error {}
        #expect(throws: Injected.self) {
            try F.importPayload(export.path, into: target, conflict: .skip) { table, row in
                if table == "_velo_posts" && row == 60 { throw Injected() }
            }
        }
        #expect(F.bytes(target) == before)
        for suffix in ["-journal", "-wal"] { #expect(!FileManager.default.fileExists(atPath: target + suffix)) }
    }

    @Test func aSuperuserEmailCollisionBlocksAndWritesNothing() throws {
        let dir = Fixtures.temporaryDirectory()
        let source = try Fixtures.demo(posts: 20, name: "collisionSource")
        let db = try Database(path: source, mode: .readWrite)
        try db.execute("UPDATE superusers SET id = 'X' || substr(id, 2)")
        let export = try F.export(source, in: dir, systemTables: ["superusers"])
        let target = try Fixtures.demo(posts: 20, name: "collisionTarget")
        let before = F.bytes(target)
        let outcome = try F.importPayload(export.path, into: target)
        #expect(!outcome.committed)
        let blocker = try #require(outcome.result.blockers.first { $0.table == "superusers" })
        #expect(blocker.check == "unique" && blocker.message.contains("superusers.email"))
        #expect(F.bytes(target) == before)
    }

    @Test func aDeclaredForeignKeyThatWouldFailBlocks() throws {
        let dir = Fixtures.temporaryDirectory()
        let db = try F.emptyTenant(in: dir)
        let before = F.bytes(db)
        let payload = try F.write(
            .object([
                ("version", .int(1)),
                (
                    "records",
                    .object([
                        (
                            "oauth_providers",
                            .array([
                                .object([
                                    ("id", .int(7)), ("collection_id", .string("01nowherenowherenowherenow")),
                                    ("provider", .string("github")), ("enabled", .int(1)),
                                    ("client_id", .string("c")), ("client_secret", .string("s")), ("redirect_uri", .null),
                                    ("scopes", .null),
                                    ("created_at", .null), ("updated_at", .null),
                                ])
                            ])
                        )
                    ])
                ),
            ]), in: dir)
        let outcome = try F.importPayload(payload, into: db)
        #expect(!outcome.committed)
        #expect(outcome.result.blockers.map(\.check) == ["foreign-key"])
        #expect(outcome.result.blockers.first?.table == "oauth_providers")
        #expect(F.bytes(db) == before)
    }
}
