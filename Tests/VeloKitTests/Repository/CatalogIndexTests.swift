import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct CatalogIndexTests {
    /// Backs `db` up into `repo` at `time`.
    @discardableResult
    static func backup(_ db: String, _ repo: Repository, at time: Int64) throws -> Backup.Result {
        var options = Backup.Options()
        options.time = time
        return try Backup.run(databasePath: db, repository: repo, options: options)
    }

    /// Dates the catalog folder's last change two minutes back, as if the catalog had been still for that long
    /// (a cache is persisted only for a catalog that is not changing).
    static func settle(_ repo: Repository) {
        var times = [timeval(tv_sec: time(nil) - 120, tv_usec: 0), timeval(tv_sec: time(nil) - 120, tv_usec: 0)]
        utimes(repo.path("catalog"), &times)
    }

    /// What a full read of the catalog says, ignoring the cache.
    static func truth(_ repo: Repository) throws -> [SourceSummary] {
        try repo.catalog.index.rebuildWithoutSaving()
    }

    func repository(_ name: String = #function) throws -> (Repository, String, String) {
        let repo = try Repository.open(Fixtures.temporaryDirectory(name).appendingPathComponent("repo").path, create: true)
        let a = try Fixtures.demo(posts: 3, seed: 1, name: name + "a")
        let b = try Fixtures.demo(posts: 3, seed: 2, name: name + "b")
        return (repo, a, b)
    }

    @Test func aSettledCatalogIsCachedAndWritersKeepTheCacheCurrent() throws {
        let (repo, a, b) = try repository()
        let t0 = History.seconds("2026-11-01T00:00:00Z")
        for hour in 0..<3 { try Self.backup(a, repo, at: t0 + Int64(hour) * 3600) }
        try Self.backup(b, repo, at: t0)
        let index = repo.catalog.index
        let first = try index.summaries()
        #expect(!first.fromCache, "a young catalog is read in full and not cached")
        #expect(!FileManager.default.fileExists(atPath: repo.path("cache/catalog.json")))
        Self.settle(repo)
        #expect(try !index.summaries().fromCache)
        let cached = try index.summaries()
        #expect(cached.fromCache)
        #expect(try cached.sources == Self.truth(repo))
        #expect(cached.sources.map(\.snapshots) == [3, 1])

        // A backup, a verification and a prune each keep the cache current and equal to the catalog.
        try Self.backup(b, repo, at: t0 + 7200)
        var now = try index.summaries()
        #expect(try now.fromCache && now.sources == Self.truth(repo))
        #expect(now.sources.first { $0.source == FileSystem.absolute(b) }?.snapshots == 2)
        let oldest = try repo.catalog.entries()[0]
        _ = try Verifier.verify(.catalogued(oldest, repository: repo))
        now = try index.summaries()
        #expect(try now.fromCache && now.sources == Self.truth(repo))
        #expect(now.sources.contains { $0.lastVerification?.id == oldest.id && $0.lastVerification?.ok == true })
        _ = try Prune.run(repository: repo, policy: try History.policy(#"{"keep_last": 1}"#), dryRun: false, now: t0 + 86_400)
        now = try index.summaries()
        #expect(try now.fromCache && now.sources == Self.truth(repo))
        #expect(now.sources.map(\.snapshots) == [1, 1])
        #expect(try repo.catalog.nextSequence() == (try repo.catalog.entries().map(\.sequence).max() ?? 0) + 1)
    }

    @Test func aChangeTheCacheDidNotSeeMakesItStale() throws {
        let (repo, a, _) = try repository()
        try Self.backup(a, repo, at: History.seconds("2026-11-01T00:00:00Z"))
        try Self.backup(a, repo, at: History.seconds("2026-11-01T01:00:00Z"))
        Self.settle(repo)
        _ = try repo.catalog.index.summaries()
        #expect(try repo.catalog.index.summaries().fromCache)
        // An entry removed behind velo's back (an older velo, a hand edit): the folder's time changes.
        let victim = try repo.catalog.entries()[0]
        unlink(repo.entryFile(victim.id))
        let after = try repo.catalog.index.summaries()
        #expect(!after.fromCache)
        #expect(after.sources.map(\.snapshots) == [1])
    }

    @Test func aTornCacheFileIsRebuiltNotBelieved() throws {
        let (repo, a, b) = try repository()
        try Self.backup(a, repo, at: History.seconds("2026-11-01T00:00:00Z"))
        try Self.backup(b, repo, at: History.seconds("2026-11-01T00:00:00Z"))
        Self.settle(repo)
        _ = try repo.catalog.index.summaries()
        let shards = try FileManager.default.contentsOfDirectory(atPath: repo.path("cache/catalog"))
        #expect(shards.count == 2)
        // A crash without fsync can leave an empty file where the shard was renamed.
        try Data().write(to: URL(fileURLWithPath: repo.path("cache/catalog/" + shards[0])))
        let read = try repo.catalog.index.summaries()
        #expect(!read.fromCache)
        #expect(try read.sources == Self.truth(repo) && read.sources.count == 2)
    }

    @Test func aPendingRemovalIsNotListed() throws {
        let (repo, a, _) = try repository()
        try Self.backup(a, repo, at: History.seconds("2026-11-01T00:00:00Z"))
        try Self.backup(a, repo, at: History.seconds("2026-11-01T01:00:00Z"))
        Self.settle(repo)
        _ = try repo.catalog.index.summaries()
        let victim = try repo.catalog.entries()[1]
        // A prune killed after writing its removal marker, before removing the entry.
        try FileSystem.createDirectory(repo.path("trash"))
        try JSONWriter.string(.object([("id", .string(victim.id)), ("archive", .string(victim.archive))]))
            .write(toFile: repo.path("trash/\(victim.id).json"), atomically: true, encoding: .utf8)
        let read = try repo.catalog.index.summaries()
        #expect(read.sources.map(\.snapshots) == [1])
        #expect(read.sources[0].latest?.id != victim.id)
    }

    /// The next writer finds uncatalogued archives and damaged entries from file names alone when the cache is
    /// current, as it does from a full read of the catalog otherwise.
    @Test func aWriterCataloguesAnOrphanArchiveWithTheCacheCurrent() throws {
        let (repo, a, _) = try repository()
        let orphan = try Self.backup(a, repo, at: History.seconds("2026-11-01T00:00:00Z"))
        let damaged = try Self.backup(a, repo, at: History.seconds("2026-11-01T01:00:00Z"))
        try Self.backup(a, repo, at: History.seconds("2026-11-01T02:00:00Z"))
        // A backup killed between the archive's rename and its catalog entry; another entry truncated.
        unlink(repo.entryFile(orphan.id))
        unlink(repo.detailFile(orphan.id))
        try "{".write(toFile: repo.entryFile(damaged.id), atomically: true, encoding: .utf8)
        Self.settle(repo)
        let before = try repo.catalog.index.summaries()
        #expect(before.sources.map(\.snapshots) == [1] && before.damaged.map(\.id) == [damaged.id])
        #expect(repo.catalog.index.currentState() != nil, "the cache is current")
        try repo.lock(command: "velo backup").release()
        let ids = Set(try repo.catalog.entries().map(\.id))
        #expect(ids.contains(orphan.id) && ids.contains(damaged.id) && ids.count == 3)
        #expect(try repo.catalog.scan().damaged.isEmpty)
    }
}
