import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct DatabaseInfoTests {
    @Test func describesADemoDatabase() throws {
        let db = try Database(path: try Fixtures.demo(posts: 120))
        let info = try DatabaseInfo.gather(from: db, layout: try TenantDatabase.load(db))
        #expect(info.kind == .tenant)
        #expect(info.journalMode == "delete")
        #expect(info.pageSize == 4096)
        #expect(info.missingMigrations.isEmpty)
        let posts = try #require(info.collections.first { $0.name == "posts" })
        #expect(posts.rows == 120)
        #expect(posts.fields == 11)
        #expect(posts.relationTargets == ["tags", "users"])
        #expect(posts.pivots.map(\.table) == ["_velo_posts_tags_tags_pivot"])
        #expect(posts.pivots.first?.rows ?? 0 > 0)
        #expect(info.systemTables.map(\.name).contains("settings"))
        #expect(info.otherTables.first { $0.name == "cache" }?.role == .frameworkCache)
    }

    @Test func aMissingCollectionTableIsReportedNotFatal() throws {
        let path = try Fixtures.demo(posts: 3)
        try Database(path: path, mode: .readWrite).execute("DROP TABLE _velo_comments")
        let db = try Database(path: path)
        let info = try DatabaseInfo.gather(from: db, layout: try TenantDatabase.load(db))
        #expect(info.collections.first { $0.name == "comments" }?.rows == nil)
    }
}
