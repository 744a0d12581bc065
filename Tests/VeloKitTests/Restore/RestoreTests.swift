import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct RestoreTests {
    /// A source with its snapshot, and a target that has drifted from it.
    func setup(_ name: String = #function) throws -> (repo: Repository, snapshot: SelectedSnapshot, target: String) {
        let dir = Fixtures.temporaryDirectory(name)
        let source = try Fixtures.demo(posts: 100, name: name)
        let repo = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        _ = try Backup.run(databasePath: source, repository: repo, options: .init())
        let entry = try #require(try repo.catalog.entries().first)
        let target = dir.appendingPathComponent("target.sqlite").path
        try FileManager.default.copyItem(atPath: source, toPath: target)
        try Database(path: target, mode: .readWrite).execute(
            """
            DELETE FROM _velo_posts WHERE rowid <= 10;
            UPDATE _velo_posts SET title = 'changed' WHERE rowid BETWEEN 11 AND 15;
            INSERT INTO _velo_posts (id, title, published) VALUES ('01zzzzzzzzzzzzzzzzzzzzzzz1', 'only here', 1), ('01zzzzzzzzzzzzzzzzzzzzzzz2', 'only here', 1);
            """)
        return (repo, .catalogued(entry, repository: repo), target)
    }

    func plan(
        _ s: (repo: Repository, snapshot: SelectedSnapshot, target: String), _ options: RestoreOptions = .init()
    ) throws -> RestorePlan {
        try RestorePlanner.plan(s.snapshot, target: s.target, options: options, busyTimeout: .seconds(1), repository: s.repo)
    }

    @Test func thePlanCountsRowsExactly() throws {
        let s = try setup()
        let plan = try plan(s)
        #expect(plan.canProceed)
        let posts = try #require(plan.tables.first { $0.table == "_velo_posts" })
        #expect((posts.insert, posts.conflicting, posts.identical, posts.onlyInTarget) == (10, 5, 85, 2))
        let users = try #require(plan.tables.first { $0.table == "_velo_users" })
        #expect(users.insert == 0 && users.conflicting == 0 && users.identical == 20)
        #expect(!plan.tables.contains { $0.table == "migrations" || $0.table == "cache" }, "migrations and caches are not merged")
    }

    @Test(arguments: [RestorePlan.Strategy.skip, .overwrite])
    func skipAndOverwriteDoWhatThePlanSaid(strategy: RestorePlan.Strategy) throws {
        let s = try setup("strategy-\(strategy)")
        var options = RestoreOptions()
        options.conflict = strategy
        let result = try Restore.run(s.snapshot, target: s.target, options: options, repository: s.repo)
        let posts = try #require(result.records["_velo_posts"])
        #expect(posts.inserted == 10)
        #expect(posts.updated == (strategy == .overwrite ? 5 : 0))
        #expect(posts.skipped == (strategy == .overwrite ? 85 : 90))
        let db = try Database(path: s.target)
        #expect(try db.scalar("SELECT count(*) FROM _velo_posts") == .integer(102))
        #expect(try db.scalar("SELECT count(*) FROM _velo_posts WHERE title = 'changed'") == .integer(strategy == .overwrite ? 0 : 5))
        #expect(try db.scalar("PRAGMA integrity_check") == .text("ok"))
        #expect(try db.scalar("SELECT count(*) FROM cache WHERE key LIKE '%velo:collection:%'") == .integer(0))
        // The safety snapshot holds the target as it was.
        let safety = try #require(try s.repo.catalog.entries().first { $0.id == result.safetySnapshot })
        #expect(safety.tags == ["pre-restore"] && safety.tableRows["_velo_posts"] == 92)
        // Planning again finds nothing left to insert.
        #expect(try plan(s, options).tables.first { $0.table == "_velo_posts" }?.insert == 0)
    }

    @Test func aUniqueCollisionBlocksAndLeavesTheTargetUnchanged() throws {
        let s = try setup()
        try Database(path: s.target, mode: .readWrite).execute(
            """
            DELETE FROM superusers WHERE email = 'admin@acme.test';
            INSERT INTO superusers VALUES ('01ZZZZZZZZZZZZZZZZZZZZZZZZ', 'Imposter', 'admin@acme.test', 'x', NULL, NULL);
            """)
        let plan = try plan(s)
        #expect(!plan.canProceed)
        let blocker = try #require(plan.blockers.first)
        #expect(blocker.check == "unique" && blocker.table == "superusers" && blocker.examples.first?.contains("admin@acme.test") == true)
        let before = try Data(contentsOf: URL(fileURLWithPath: s.target))
        do {
            _ = try Restore.run(s.snapshot, target: s.target, options: .init(), repository: s.repo)
            Issue.record("a blocked restore ran")
        } catch let error as RestoreBlocked {
            #expect(error.kind == .blocked && error.description.contains("superusers_email_unique"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.target)) == before)
    }

    @Test func aFullDiskMidImportChangesNothing() throws {
        let s = try setup()
        // Most posts gone and no free pages left: putting them back needs new pages, and there are none.
        try Database(path: s.target, mode: .readWrite).execute("DELETE FROM _velo_posts WHERE rowid <= 80; VACUUM")
        let before = try Data(contentsOf: URL(fileURLWithPath: s.target))
        let pages = Int(try Database(path: s.target).pragma("page_count")?.int64Value ?? 0)
        var options = RestoreOptions()
        options.conflict = .overwrite
        #expect(throws: (any Error).self) {
            try Restore.run(s.snapshot, target: s.target, options: options, repository: s.repo, safetySnapshot: false) { db in
                try db.execute("PRAGMA max_page_count = \(pages)")
            }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.target)) == before)
    }

    @Test func staleRelationsAndMissingMigrationsAreFound() throws {
        let s = try setup()
        // The users the restored posts point at are gone from the target, and are not in the snapshot's users either.
        let db = try Database(path: s.target, mode: .readWrite)
        try db.execute("DELETE FROM migrations WHERE migration LIKE '2026_06_11%'")
        var options = RestoreOptions()
        options.collections = ["posts"]
        try db.execute("DELETE FROM _velo_users")
        let plan = try plan(s, options)
        #expect(plan.blockers.contains { $0.check == "schema-version" && $0.examples.contains { $0.hasPrefix("2026_06_11") } })
        let stale = try #require(plan.findings.first { $0.check == "relation" && $0.table == "_velo_posts" })
        #expect(stale.severity == .warning && (stale.count ?? 0) > 0 && !stale.examples.isEmpty)
    }

    @Test func aDamagedArchiveBlocksBeforeAnythingElse() throws {
        let s = try setup()
        let path = s.snapshot.archiveLocation
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        let plan = try plan(s)
        #expect(!plan.canProceed && plan.blockers.allSatisfy { $0.check == "archive" })
    }
}

@Suite struct RestoreAcrossInstallsTests {
    @Test func collectionsAreMatchedByNameAndTheirIdsRewritten() throws {
        let dir = Fixtures.temporaryDirectory()
        let source = try Fixtures.demo(posts: 40, seed: 1, name: "source")
        let repo = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        _ = try Backup.run(databasePath: source, repository: repo, options: .init())
        let entry = try #require(try repo.catalog.entries().first)
        // Another install: the same collections under other ids, and no comments collection yet.
        let target = try Fixtures.demo(posts: 10, seed: 2, name: "target")
        let db = try Database(path: target, mode: .readWrite)
        try db.execute("DROP TABLE _velo_comments; DELETE FROM collections WHERE name = 'comments'")
        let targetPosts = try #require(try db.scalar("SELECT id FROM collections WHERE name = 'posts'")?.stringValue)
        let archivePosts = try #require(try Database(path: source).scalar("SELECT id FROM collections WHERE name = 'posts'")?.stringValue)
        #expect(targetPosts != archivePosts)
        var options = RestoreOptions()
        options.collections = ["comments"]
        options.systemTables = []
        let plan = try RestorePlanner.plan(.catalogued(entry, repository: repo), target: target, options: options, busyTimeout: .seconds(1))
        #expect(plan.canProceed, "\(plan.blockers.map(\.message))")
        #expect(
            plan.findings.contains { $0.check == "relation" && $0.table == "_velo_comments" },
            "comments point at posts the target does not have")
        let result = try Restore.run(.catalogued(entry, repository: repo), target: target, options: options, repository: repo)
        #expect(result.metadata.map(\.action) == ["created"])
        let fields = try #require(try db.scalar("SELECT fields FROM collections WHERE name = 'comments'")?.stringValue)
        #expect(fields.contains(targetPosts) && !fields.contains(archivePosts))
        #expect(try db.scalar("SELECT count(*) FROM _velo_comments") == .integer(Int64(result.records["_velo_comments"]?.inserted ?? -1)))
        #expect(try SchemaHealth.check(db, layout: try TenantDatabase.load(db)).healthy)
    }

    @Test func onlySystemTablesAreSystemTables() throws {
        let dir = Fixtures.temporaryDirectory()
        let source = try Fixtures.demo(posts: 5)
        let repo = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        _ = try Backup.run(databasePath: source, repository: repo, options: .init())
        let entry = try #require(try repo.catalog.entries().first)
        var options = RestoreOptions()
        options.systemTables = ["migrations"]
        #expect(throws: VeloError.self) {
            try RestorePlanner.plan(.catalogued(entry, repository: repo), target: source, options: options, busyTimeout: .seconds(1))
        }
    }
}
