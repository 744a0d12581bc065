import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// One focused regression test per way plan and restore used to disagree (issue 16).
@Suite struct PlanRestoreAgreementTests {
    struct Setup {
        var repo: Repository
        var snapshot: SelectedSnapshot
        var source: String
        var target: String
    }

    /// A demo source with its snapshot, and a copy of it changed by `mutations` as Veloquent would change it.
    func setup(_ mutations: [RestoreMutation], _ name: String = #function) throws -> Setup {
        let dir = Fixtures.temporaryDirectory(name)
        let source = try Fixtures.demo(posts: 60, seed: 5, name: name)
        let repo = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        _ = try Backup.run(databasePath: source, repository: repo, options: .init())
        let entry = try #require(try repo.catalog.entries().first)
        let target = dir.appendingPathComponent("target.sqlite").path
        try FileManager.default.copyItem(atPath: source, toPath: target)
        let db = try Database(path: target, mode: .readWrite)
        try db.execute("PRAGMA foreign_keys = ON")
        for mutation in mutations { try mutation.apply(to: db) }
        return Setup(repo: repo, snapshot: .catalogued(entry, repository: repo), source: source, target: target)
    }

    func options(_ strategy: RestorePlan.Strategy) -> RestoreOptions {
        var options = RestoreOptions()
        options.conflict = strategy
        return options
    }

    func plan(_ s: Setup, _ options: RestoreOptions) throws -> RestorePlan {
        try RestorePlanner.plan(s.snapshot, target: s.target, options: options, busyTimeout: .seconds(1))
    }

    /// The restore refuses with exit status 3 and leaves the target byte for byte as it was.
    func expectRefused(
        _ s: Setup, _ options: RestoreOptions, mentioning text: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let before = try Data(contentsOf: URL(fileURLWithPath: s.target))
        do {
            _ = try Restore.run(s.snapshot, target: s.target, options: options, repository: s.repo, safetySnapshot: false)
            Issue.record("the restore ran", sourceLocation: sourceLocation)
        } catch let error as RestoreBlocked {
            #expect(error.kind == .blocked && error.description.contains(text), "\(error)", sourceLocation: sourceLocation)
            #expect(
                error.plan.blockers.contains { $0.message.contains(text) }, "the error carries the plan", sourceLocation: sourceLocation)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.target)) == before, sourceLocation: sourceLocation)
    }

    /// 1a. A target column made NOT NULL meets archive rows holding NULL: inserted under skip, updated under overwrite.
    @Test(arguments: [RestorePlan.Strategy.skip, .overwrite])
    func nullsIntoANotNullColumnBlock(strategy: RestorePlan.Strategy) throws {
        let s = try setup([.makeNotNull(collection: "comments", field: "author")], "notnull-\(strategy)")
        let db = try Database(path: s.target, mode: .readWrite)
        // A comment without author in the archive: gone from the target (skip inserts it) or changed there (overwrite updates it).
        let id = try #require(
            try Database(path: s.source).scalar("SELECT id FROM _velo_comments WHERE author IS NULL ORDER BY id LIMIT 1")?.stringValue)
        if strategy == .skip {
            try db.execute("DELETE FROM _velo_comments WHERE id = ?", [.text(id)])
        } else {
            try db.execute("UPDATE _velo_comments SET body = 'edited' WHERE id = ?", [.text(id)])
        }
        let plan = try plan(s, options(strategy))
        let blocker = try #require(plan.blockers.first { $0.check == "not-null" })
        #expect(blocker.table == "_velo_comments" && blocker.message.contains("author") && blocker.examples.contains(id))
        try expectRefused(s, options(strategy), mentioning: "NOT NULL")
    }

    /// 1b. Overwrite re-creates a unique index the target dropped: its duplicates, or an archive row colliding
    /// with a target row on it, block the plan.
    @Test func theUniqueIndexesTheRestoreCreatesAreChecked() throws {
        let duplicates = try setup([.removeUniqueIndex(collection: "tags", column: "name", duplicate: true)])
        let plan = try plan(duplicates, options(.overwrite))
        let blocker = try #require(plan.blockers.first { $0.check == "unique" })
        #expect(blocker.message.contains("_velo_tags_name_unique") && blocker.count == 2 && !blocker.examples.isEmpty)
        try expectRefused(duplicates, options(.overwrite), mentioning: "_velo_tags_name_unique")
        #expect(try self.plan(duplicates, options(.skip)).canProceed, "skip keeps the target's definition: no index is created")

        // No duplicates in the target, but the archive's tag takes back a name a new tag of the target holds.
        let collision = try setup(
            [
                .removeUniqueIndex(collection: "tags", column: "name", duplicate: false),
                .uniqueCollision(table: "_velo_tags", column: "name", offset: 2),
            ], "collision")
        let second = try self.plan(collision, options(.overwrite))
        let collides = try #require(second.blockers.first { $0.check == "unique" })
        #expect(collides.message.contains("would collide") && collides.message.contains("_velo_tags_name_unique"))
        let colliding = try #require(collides.count)
        #expect(collides.message.hasPrefix(colliding == 1 ? "1 row of " : "\(colliding) rows of "), "\(collides.message)")
        try expectRefused(collision, options(.overwrite), mentioning: "_velo_tags_name_unique")
    }

    /// 2. After a column was dropped, overwrite adds it back first; a row whose archive value is NULL is then
    /// identical, in the plan as in the restore.
    @Test func aDroppedColumnIsComparedAsTheRestoreWillAddIt() throws {
        let s = try setup([.dropField(collection: "posts", field: "views")])
        let plan = try plan(s, options(.overwrite))
        #expect(plan.canProceed, "\(plan.blockers.map(\.message))")
        let posts = try #require(plan.tables.first { $0.table == "_velo_posts" })
        let nullViews = try Database(path: s.source).scalar("SELECT count(*) FROM _velo_posts WHERE views IS NULL")?.int64Value ?? 0
        #expect(nullViews > 0 && posts.identical == Int(nullViews) && posts.addColumns == ["views"])
        let result = try Restore.run(s.snapshot, target: s.target, options: options(.overwrite), repository: s.repo, safetySnapshot: false)
        let counts = try #require(result.records["_velo_posts"])
        #expect((counts.inserted, counts.updated, counts.skipped) == (posts.insert, posts.conflicting, posts.identical))
    }

    /// Under skip the dropped column is not added: the plan blocks, naming it, and still counts the rows.
    @Test func aDroppedColumnBlocksASkip() throws {
        let s = try setup([.dropField(collection: "posts", field: "views")])
        let plan = try plan(s, options(.skip))
        #expect(plan.blockers.contains { $0.message.contains("_velo_posts.views") })
        #expect(plan.tables.first { $0.table == "_velo_posts" }.map { $0.insert + $0.conflicting + $0.identical } == 60)
        try expectRefused(s, options(.skip), mentioning: "views")
    }

    /// 3. Under overwrite a field retyped within the same SQLite class gets the archive's column type back (the
    /// table is rebuilt as `schema recover` does), and the plan says so: `schema corrupt` stays clean.
    @Test func aSameClassRetypeIsBroughtInLine() throws {
        let s = try setup([.retypeField(collection: "posts", field: "body", to: "text")])
        let before = try Database(path: s.target)
        #expect(try before.scalar("SELECT type FROM pragma_table_info('_velo_posts') WHERE name = 'body'")?.stringValue == "varchar")
        let plan = try plan(s, options(.overwrite))
        #expect(plan.canProceed, "\(plan.blockers.map(\.message))")
        #expect(plan.tables.first { $0.table == "_velo_posts" }?.retypeColumns == ["body"])
        #expect(
            plan.findings.contains { $0.severity == .warning && $0.message.contains("_velo_posts.body") && $0.message.contains("rebuilt") })
        _ = try Restore.run(s.snapshot, target: s.target, options: options(.overwrite), repository: s.repo, safetySnapshot: false)
        let db = try Database(path: s.target)
        let ddl = try db.scalar("SELECT sql FROM sqlite_schema WHERE name = '_velo_posts'")?.stringValue ?? ""
        let type = try db.scalar("SELECT type FROM pragma_table_info('_velo_posts') WHERE name = 'body'")
        #expect(type?.stringValue?.lowercased() == "text", "\(String(describing: type)) \(ddl)")
        #expect(try db.scalar("SELECT count(*) FROM _velo_posts") == .integer(60))
        let health = try SchemaHealth.check(db, layout: try TenantDatabase.load(db))
        #expect(health.healthy, "\(health.findings.map(\.message))")
    }

    /// 4. A collection re-created under a new id: system rows are compared after the id rewrite, so rows that only
    /// differ by the dead id are conflicting, and overwrite gives them the new id.
    @Test func systemRowsAreComparedAfterTheIdRewrite() throws {
        let s = try setup([.recreateCollection("users")])
        let oldID = try #require(try Database(path: s.source).scalar("SELECT id FROM collections WHERE name = 'users'")?.stringValue)
        let newID = try #require(try Database(path: s.target).scalar("SELECT id FROM collections WHERE name = 'users'")?.stringValue)
        #expect(oldID != newID)
        let stale =
            try Database(path: s.target).scalar("SELECT count(*) FROM auth_tokens WHERE collection_id = ?", [.text(oldID)])?.int64Value ?? 0
        #expect(stale > 0)
        let plan = try plan(s, options(.overwrite))
        #expect(plan.canProceed, "\(plan.blockers.map(\.message))")
        #expect(plan.tables.first { $0.table == "auth_tokens" }?.conflicting == Int(stale))
        #expect(plan.tables.first { $0.table == "email_templates" }?.identical == 0)
        let result = try Restore.run(s.snapshot, target: s.target, options: options(.overwrite), repository: s.repo, safetySnapshot: false)
        #expect(result.records["auth_tokens"]?.updated == Int(stale))
        let db = try Database(path: s.target)
        for table in ["auth_tokens", "otp_tokens", "email_templates", "oauth_accounts"] {
            #expect(try db.scalar("SELECT count(*) FROM \(table) WHERE collection_id = ?", [.text(oldID)]) == .integer(0), "\(table)")
        }
    }

    /// 5. A restore into a new file reports exactly the tables its plan lists: sqlite_sequence included, and with
    /// a selection the collections' metadata and the migrations too.
    @Test(arguments: [false, true])
    func aNewFileReportsThePlannedTables(selection: Bool) throws {
        let s = try setup([], "newfile-\(selection)")
        let target = (s.target as NSString).deletingLastPathComponent + "/new.sqlite"
        var options = RestoreOptions()
        if selection { options.collections = ["posts"] }
        let plan = try RestorePlanner.plan(s.snapshot, target: target, options: options, busyTimeout: .seconds(1))
        let planned = Set(plan.tables.map(\.table))
        #expect(planned.contains("sqlite_sequence"))
        if selection {
            #expect(planned.isSuperset(of: ["collections", "migrations", "_velo_posts"]) && !planned.contains("_velo_comments"))
        }
        let result = try Restore.run(s.snapshot, target: target, options: options, repository: s.repo, safetySnapshot: false)
        #expect(Set(result.records.keys) == planned)
        for table in plan.tables { #expect(result.records[table.table]?.inserted == table.insert, "\(table.table)") }
    }
}
