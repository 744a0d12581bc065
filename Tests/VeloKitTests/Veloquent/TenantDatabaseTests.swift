import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct TenantDatabaseTests {
    @Test(.enabled(if: Fixtures.available, Fixtures.skipMessage))
    func readsTheRealTenantFixture() throws {
        let db = try Database(path: Fixtures.tenantTest)
        let layout = try TenantDatabase.load(db)
        #expect(layout.kind == .tenant)
        #expect(layout.collections.map(\.name).sorted() == ["oauth", "otps", "superusers", "users"])
        let tables = Dictionary(uniqueKeysWithValues: layout.collections.map { ($0.name, $0.tableName) })
        #expect(tables == ["superusers": "superusers", "otps": "otp_tokens", "oauth": "oauth_accounts", "users": "_velo_users"])
        #expect(layout.schemaVersion == "2026_04_28_133148_create_tenant_settings")
        #expect(layout.appliedMigrations.count == 13)
        #expect(layout.prefix == "_velo_")
        #expect(layout.role(of: "_velo_users") == .collection)
        #expect(layout.role(of: "settings") == .system)
        #expect(layout.role(of: "cache") == .frameworkCache)
        #expect(layout.role(of: "sqlite_sequence") == .sqliteInternal)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.skipMessage))
    func readsIrregularRowsLeniently() throws {
        let layout = try TenantDatabase.load(try Database(path: Fixtures.tenantTest))
        let superusers = try #require(layout.collection(named: "superusers"))
        #expect(superusers.id == "01KQMNYD3QA6RTN322EWA38QGD")
        #expect(superusers.type == .auth && superusers.isSystem)
        #expect(superusers.fields.allSatisfy { $0.order == nil })
        #expect(superusers.fields.first?.raw["length"] == .int(26))
        let otps = try #require(layout.collection(named: "otps"))
        #expect(otps.fields.allSatisfy { $0.id == nil && $0.order == 0 })
        let users = try #require(layout.collection(named: "users"))
        #expect(users.indexes == [IndexSpec(columns: ["email"], kind: .unique)])
        #expect(users.managedIndexNames == ["_velo_users_email_unique"])
        #expect(
            users.fields.map(\.name) == ["id", "email", "password", "email_visibility", "verified", "name", "created_at", "updated_at"])
        #expect(users.fields.first { $0.name == "email_visibility" }?.defaultValue == .bool(true))
        // Every column of the row is kept verbatim.
        #expect(users.columns.map(\.name).count == 13)
        #expect(users.options?["auth_methods"]?["standard"]?["identity_fields"] == .array([.string("email")]))
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.skipMessage))
    func readsTheExampleSchemaWithPosts() throws {
        let path = try Fixtures.exampleDatabase()
        let layout = try TenantDatabase.load(try Database(path: path))
        let posts = try #require(layout.collection(named: "posts"))
        #expect(posts.tableName == "_velo_posts")
        #expect(posts.fields.map(\.type) == [.text, .text, .boolean, .relation, .datetime, .datetime])
        let author = try #require(posts.fields.first { $0.name == "author" })
        #expect(author.targetCollectionID == layout.collection(named: "users")?.id)
        #expect(posts.managedIndexNames == ["_velo_posts_author_index"])
        // velo's DDL for the collection is exactly the example's (which follows Laravel's grammar).
        let sql = try Database(path: path).scalar("SELECT sql FROM sqlite_schema WHERE name = '_velo_posts'")?.stringValue
        #expect(sql == CollectionDDL.createTable(posts).replacingOccurrences(of: "create table", with: "CREATE TABLE"))
        let users = try #require(layout.collection(named: "users"))
        let usersSQL = try Database(path: path).scalar("SELECT sql FROM sqlite_schema WHERE name = '_velo_users'")?.stringValue
        #expect(usersSQL == CollectionDDL.createTable(users).replacingOccurrences(of: "create table", with: "CREATE TABLE"))
    }

    @Test func findsPivotTablesByCollectionNamesAndAfterARename() throws {
        let path = try Fixtures.demo(posts: 10)
        let db = try Database(path: path, mode: .readWrite)
        var layout = try TenantDatabase.load(db)
        #expect(layout.pivots.map(\.name) == ["_velo_posts_tags_tags_pivot"])
        #expect(layout.role(of: "_velo_posts_tags_tags_pivot") == .pivot)
        // Renaming a collection changes its name but not its table; the existing pivot is still found.
        try db.execute("UPDATE collections SET name = 'articles' WHERE name = 'posts'")
        layout = try TenantDatabase.load(db)
        #expect(layout.pivots.map(\.name) == ["_velo_posts_tags_tags_pivot"])
        #expect(layout.pivots.first?.sourceCollection == "articles")
    }

    @Test func tablesWithThePrefixThatNoCollectionOwnsAreOrphans() throws {
        let path = try Fixtures.demo(posts: 5)
        let db = try Database(path: path, mode: .readWrite)
        try db.execute(#"CREATE TABLE "_velo_old_drafts" ("id" varchar); CREATE TABLE "audit_log" ("id" integer)"#)
        let layout = try TenantDatabase.load(db)
        #expect(layout.role(of: "_velo_old_drafts") == .orphan)
        #expect(layout.role(of: "audit_log") == .other)
    }

    @Test func malformedJSONNamesTheFileCollectionAndColumn() throws {
        let path = try Fixtures.demo(posts: 5)
        try Database(path: path, mode: .readWrite).execute("UPDATE collections SET fields = '[{\"name\": ' WHERE name = 'posts'")
        do {
            _ = try TenantDatabase.load(try Database(path: path))
            Issue.record("expected an error")
        } catch let error as ModelError {
            let text = error.description
            #expect(
                text.contains(path) && text.contains("'posts'") && text.contains("fields") && text.contains("malformed JSON"), "\(text)")
        }
    }

    @Test func aSQLiteFileWithoutCollectionsIsNotVeloquent() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("plain.sqlite").path
        try Database(path: path, mode: .create).execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        #expect(throws: ModelError.notVeloquent(path: path, reason: "no collections table among its 1 tables")) {
            try TenantDatabase.load(try Database(path: path))
        }
    }

    @Test func landlordDatabasesListTheirTenants() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("landlord.sqlite").path
        let db = try Database(path: path, mode: .create)
        try db.execute(
            #"""
            create table "tenants" ("id" integer primary key autoincrement not null, "name" varchar not null, "domain" varchar not null, "database" varchar, "created_at" datetime, "updated_at" datetime);
            insert into tenants (name, domain, database) values ('Acme', 'localhost', '/srv/app/database/tenants/velo_tenant_acme.sqlite'), ('Globex', 'globex.test', '/srv/app/database/tenants/velo_tenant_globex.sqlite');
            """#)
        let layout = try TenantDatabase.load(db)
        #expect(layout.kind == .landlord)
        #expect(layout.tenants.map(\.name) == ["Acme", "Globex"])
        #expect(layout.tenants.first?.database == "/srv/app/database/tenants/velo_tenant_acme.sqlite")
        // Single-tenant mode: both sides in one file.
        let both = try Fixtures.demo(posts: 1)
        try Database(path: both, mode: .readWrite).execute(
            #"create table "tenants" ("id" integer primary key autoincrement not null, "name" varchar not null, "domain" varchar not null, "database" varchar); insert into tenants (name, domain) values ('Acme', 'localhost')"#
        )
        let single = try TenantDatabase.load(try Database(path: both))
        #expect(single.kind == .singleTenant)
        #expect(single.tenants.first?.database == nil)
    }

    @Test func migrationsGiveTheSchemaVersion() {
        #expect(Migrations.schemaVersion(applied: Array(Migrations.tenant.prefix(3))) == "0001_01_01_000002_create_cache_table")
        #expect(Migrations.missing(from: Migrations.tenant).isEmpty)
        #expect(Migrations.isKnown("2026_06_11_202435_add_fingerprint_and_revocation_to_auth_tokens_table"))
    }
}
