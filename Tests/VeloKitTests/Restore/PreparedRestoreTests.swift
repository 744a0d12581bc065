import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The plan is the contract: a restore runs the plan it made, reading each part of the archive at most once
/// more than planning did (for the rows it imports), never the archive's start or its rows a third time.
/// `EntryReadLog` counts every entry's reads across every reader.
@Suite(.serialized) struct PreparedRestoreTests {
    @Test(arguments: [true, false]) func aRestoreReadsEachPartAtMostOnceMoreThanItsPlan(incremental: Bool) throws {
        let dir = Fixtures.temporaryDirectory("prepared-\(incremental)")
        let source = try Fixtures.demo(posts: 300, name: "prepared-\(incremental)")
        let repo = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        var options = Backup.Options()
        options.incremental = incremental
        options.partBytes = 16 << 10  // several parts per table
        let backup = try Backup.run(databasePath: source, repository: repo, options: options)
        let entry = try #require(repo.catalog.entry(backup.id))
        let target = dir.appendingPathComponent("target.sqlite").path
        try FileManager.default.copyItem(atPath: source, toPath: target)
        try Database(path: target, mode: .readWrite).execute("DELETE FROM _velo_posts WHERE rowid % 4 = 0")
        let log = EntryReadLog()
        let (plan, planReads) = try log.recording {
            try RestorePlanner.plan(.catalogued(entry, repository: repo), target: target, options: .init(), repository: repo)
        }
        #expect(plan.canProceed)
        let (_, restoreReads) = try log.recording {
            try Restore.run(
                .catalogued(entry, repository: repo), target: target, options: .init(), repository: repo, safetySnapshot: false)
        }
        let parts = try repo.catalog.detail(entry.id).manifest.entries.map(\.path).filter { $0.hasSuffix(".ndjson") }
        #expect(parts.count > 10)
        #expect(
            restoreReads.keys.contains { $0.hasPrefix("\(repo.path(entry.archive))#records/_velo_posts/") },
            "the restore reads the rows it imports")
        let archive = repo.path(entry.archive)
        for part in parts {
            let planned = planReads["\(archive)#\(part)"] ?? 0
            let restored = restoreReads["\(archive)#\(part)"] ?? 0
            #expect(restored <= planned + 1, "\(part): the plan read it \(planned) times, the restore \(restored)")
        }
        #expect(try Database(path: target).scalar("SELECT count(*) FROM _velo_posts") == .integer(300))
    }
}
