import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct PruneTests {
    /// A repository with one real snapshot per day for `days` days.
    func repository(days: Int, _ name: String = #function) throws -> Repository {
        let repo = try Repository.open(Fixtures.temporaryDirectory(name).appendingPathComponent("repo").path, create: true)
        let db = try Fixtures.demo(posts: 3, name: name)
        for day in 0..<days {
            var options = Backup.Options()
            options.time = History.seconds("2026-11-01T03:00:00Z") + Int64(day) * 86_400
            _ = try Backup.run(databasePath: db, repository: repo, options: options)
        }
        return repo
    }

    @Test func removesWhatThePolicyDoesNotKeepAndNothingTheSecondTime() throws {
        let repo = try repository(days: 6)
        let policy = try History.policy(#"{"keep_last": 2}"#)
        let dry = try Prune.run(repository: repo, policy: policy, dryRun: true, now: History.seconds("2026-12-01T00:00:00Z"))
        #expect(dry.keep.count == 2 && dry.remove.count == 4 && dry.bytesFreed > 0)
        #expect(try repo.catalog.entries().count == 6, "a dry run removes nothing")
        let report = try Prune.run(repository: repo, policy: policy, dryRun: false, now: History.seconds("2026-12-01T00:00:00Z"))
        #expect(report.remove.count == 4)
        let left = try repo.catalog.entries()
        #expect(left.map { Timestamp.format($0.time).prefix(10) } == ["2026-11-05", "2026-11-06"])
        let archives = (FileManager.default.enumerator(atPath: repo.path("snapshots"))?.allObjects as? [String] ?? []).filter {
            $0.hasSuffix(".tar.zst")
        }
        #expect(archives.count == 2)
        for entry in left { #expect(FileManager.default.fileExists(atPath: repo.path(entry.archive))) }
        let again = try Prune.run(repository: repo, policy: policy, dryRun: false, now: History.seconds("2026-12-01T00:00:00Z"))
        #expect(again.remove.isEmpty)
    }

    @Test func aPruneKilledMidwayIsCompletedByTheNextWriter() throws {
        let repo = try repository(days: 3)
        let victim = try repo.catalog.entries()[0]
        // The state after the removal marker was written and the catalog entry removed, before the archive went.
        try FileSystem.createDirectory(repo.path("trash"))
        try JSONWriter.string(.object([("id", .string(victim.id)), ("archive", .string(victim.archive))]))
            .write(toFile: repo.path("trash/\(victim.id).json"), atomically: true, encoding: .utf8)
        repo.catalog.remove(victim.id)
        #expect(FileManager.default.fileExists(atPath: repo.path(victim.archive)))
        // The next writer finishes the removal instead of adopting the uncatalogued archive back.
        try repo.lock(command: "velo backup").release()
        #expect(!FileManager.default.fileExists(atPath: repo.path(victim.archive)))
        #expect(try repo.catalog.entries().count == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: repo.path("trash")).isEmpty)
    }

    @Test func pruneTakesTheLock() throws {
        let repo = try repository(days: 2)
        let lock = try repo.lock(command: "velo backup")
        defer { lock.release() }
        #expect(throws: RepositoryLock.Failure.self) {
            try Prune.run(repository: repo, policy: try History.policy(#"{"keep_last": 1}"#), dryRun: false)
        }
        // A dry run reads only the catalog and needs no lock.
        #expect(try Prune.run(repository: repo, policy: try History.policy(#"{"keep_last": 1}"#), dryRun: true).remove.count == 1)
    }
}
