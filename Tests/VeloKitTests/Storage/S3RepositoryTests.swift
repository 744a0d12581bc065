import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The engine end to end on a bucket: the repository opened by its `s3:` location, incremental backups, verify,
/// a restore equal to one from a local repository, a prune that sweeps, and `velo init` again.
@Suite struct S3RepositoryTests {
    @Test func backupVerifyRestorePruneOnABucket() throws {
        guard let server = try S3StorageTests.server() else { return }
        for (key, value) in SeaweedFS.environment where key != "HOME" { setenv(key, value, 1) }
        let location = server.location("engine")
        let source = try Fixtures.demo(posts: 300)
        let repository = try Repository.open(location, create: true)
        #expect(repository.root == location)
        let db = try Database(path: source, mode: .readWrite)
        for change in [
            "", "UPDATE _velo_posts SET title = title || '!' WHERE rowid % 9 = 0", "DELETE FROM _velo_posts WHERE rowid % 13 = 0",
        ] {
            if !change.isEmpty { try db.execute(change) }
            _ = try Backup.run(databasePath: source, repository: repository, options: .init())
        }
        let entries = try repository.catalog.entries()
        #expect(entries.count == 3)
        let shared = VerifiedParts()
        for entry in entries {
            let report = try Verifier.verify(.catalogued(entry, repository: repository), verifiedParts: shared)
            #expect(report.ok, "\(report.problems)")
        }
        let dir = Fixtures.temporaryDirectory()
        let fromBucket = dir.appendingPathComponent("bucket.sqlite").path
        _ = try NewDatabaseRestore.run(.catalogued(entries[2], repository: repository), manifest: nil, archiveSHA256: nil, to: fromBucket)
        let local = try Repository.open(dir.appendingPathComponent("local").path, create: true)
        let localEntry = try Backup.run(databasePath: source, repository: local, options: .init())
        let fromLocal = dir.appendingPathComponent("local.sqlite").path
        _ = try NewDatabaseRestore.run(
            .catalogued(try #require(local.catalog.entry(localEntry.id)), repository: local), manifest: nil, archiveSHA256: nil,
            to: fromLocal)
        #expect(try FormatTwoDamagePropertyTests.fingerprint(fromBucket) == FormatTwoDamagePropertyTests.fingerprint(fromLocal))
        // Keep the newest: the sweep removes what only the others used, and the newest still verifies.
        let report = try Prune.run(
            repository: repository, policy: try RetentionPolicy(json: JSONParser.parse(Array(#"{"keep_last":1}"#.utf8))), dryRun: false)
        #expect(report.remove.count == 2)
        let kept = try repository.catalog.entries()
        #expect(kept.count == 1 && (try Verifier.verify(.catalogued(kept[0], repository: repository))).ok)
        #expect(try Repository.open(location, create: true).catalog.entries().count == 1, "init again finds the repository")
    }
}
