import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// `velo copy`: only what the destination lacks is stored, a second copy stores nothing, every copied snapshot
/// verifies and restores to what its source holds, and damage in the source is refused with nothing catalogued.
@Suite struct SnapshotCopyTests {
    /// A repository with three snapshots: two incremental (the second after a change), one full, the second tagged.
    static func sourceRepository(_ dir: URL) throws -> (repository: Repository, database: String) {
        let source = try Fixtures.demo(posts: 300, name: dir.lastPathComponent)
        let repository = try Repository.open(dir.appendingPathComponent("source").path, create: true)
        _ = try Backup.run(databasePath: source, repository: repository, options: .init())
        try Database(path: source, mode: .readWrite).execute("UPDATE _velo_posts SET title = title || '!' WHERE rowid % 7 = 0")
        var tagged = Backup.Options()
        tagged.tags = ["second"]
        _ = try Backup.run(databasePath: source, repository: repository, options: tagged)
        var full = Backup.Options()
        full.incremental = false
        _ = try Backup.run(databasePath: source, repository: repository, options: full)
        return (repository, source)
    }

    /// Copies every snapshot into `destination`, then again; checks the copies against the source.
    static func checkCopies(from source: Repository, to destination: Repository) throws {
        let entries = try source.catalog.entries()
        let first = try SnapshotCopy.run(from: source, to: destination, entries: entries)
        #expect(first.copied.map(\.id) == entries.map(\.id) && first.skipped.isEmpty)
        #expect(first.piecesShared > 0, "the second incremental snapshot shares pieces with the first: sent once")
        let again = try SnapshotCopy.run(from: source, to: destination, entries: entries)
        #expect(again.copied.isEmpty && again.skipped.count == entries.count && again.objects == 0, "nothing is sent twice")
        let copies = try destination.catalog.entries()
        #expect(copies.map(\.id).sorted() == entries.map(\.id).sorted())
        let dir = Fixtures.temporaryDirectory()
        for entry in entries {
            let copy = try #require(copies.first { $0.id == entry.id })
            #expect(copy.archiveSHA256 == entry.archiveSHA256 && copy.tags == entry.tags && copy.time == entry.time)
            #expect(copy.verification == nil, "a copy is not verified until it is")
            let report = try Verifier.verify(.catalogued(copy, repository: destination))
            #expect(report.ok, "\(report.problems)")
            let fromSource = dir.appendingPathComponent("s-\(entry.id).sqlite").path
            let fromCopy = dir.appendingPathComponent("c-\(entry.id).sqlite").path
            _ = try NewDatabaseRestore.run(.catalogued(entry, repository: source), manifest: nil, archiveSHA256: nil, to: fromSource)
            _ = try NewDatabaseRestore.run(.catalogued(copy, repository: destination), manifest: nil, archiveSHA256: nil, to: fromCopy)
            #expect(try FormatTwoDamagePropertyTests.fingerprint(fromSource) == FormatTwoDamagePropertyTests.fingerprint(fromCopy))
        }
    }

    @Test func aCopyStoresOnlyWhatTheDestinationLacksAndRestoresTheSame() throws {
        let dir = Fixtures.temporaryDirectory()
        let (source, _) = try Self.sourceRepository(dir)
        let destination = try Repository.open(dir.appendingPathComponent("copy").path, create: true)
        try Self.checkCopies(from: source, to: destination)
    }

    /// One snapshot copied alone brings every piece it needs, whatever it shares with snapshots left behind.
    @Test func aSnapshotCopiedAloneIsWhole() throws {
        let dir = Fixtures.temporaryDirectory()
        let (source, _) = try Self.sourceRepository(dir)
        let second = try #require(try source.catalog.entries().first { $0.tags == ["second"] })
        let destination = try Repository.open(dir.appendingPathComponent("copy").path, create: true)
        let report = try SnapshotCopy.run(from: source, to: destination, entries: [second])
        #expect(report.copied.count == 1 && report.piecesShared == 0)
        let copy = try #require(destination.catalog.entry(second.id))
        #expect(try Verifier.verify(.catalogued(copy, repository: destination)).ok)
        #expect(copy.storedBytes == report.bytes - copy.archiveBytes, "what the snapshot added to this repository")
    }

    /// A source archive that does not hash to its catalog entry is refused: the error names it, nothing of that
    /// snapshot is catalogued, and the pieces sent before the refusal are swept.
    @Test(arguments: [0, 2]) func damageInTheSourceIsRefusedAndLeavesNothingCatalogued(_ index: Int) throws {
        let dir = Fixtures.temporaryDirectory("damage\(index)")
        let (source, _) = try Self.sourceRepository(dir)
        let entries = try source.catalog.entries()
        let damaged = entries[index]  // 0: an incremental archive (its segments unreadable), 2: a full one (its SHA-256)
        let path = dir.appendingPathComponent("source").appendingPathComponent(damaged.archive).path
        var bytes = try FileSystem.read(path)
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let destination = try Repository.open(dir.appendingPathComponent("copy").path, create: true)
        #expect {
            try SnapshotCopy.run(from: source, to: destination, entries: [damaged])
        } throws: { error in
            "\(error)".contains(damaged.archive) && (error as? any VeloFailure)?.kind == .damaged
        }
        #expect(try destination.catalog.entries().isEmpty)
        var objects = 0
        for kind in [StoredKind.pack, .list, .snapshot] { try destination.storage.list(kind) { _, _ in objects += 1 } }
        #expect(objects == 0, "what the refused copy sent is referenced by nothing and swept")
        // The sound snapshots still copy.
        let rest = try SnapshotCopy.run(from: source, to: destination, entries: entries.filter { $0.id != damaged.id })
        #expect(rest.copied.count == 2)
    }

    /// Local to bucket and back (3-2-1): the engine is the same whichever storage is at either end.
    @Test func aLocalRepositoryCopiesToABucketAndBack() throws {
        guard let server = try S3StorageTests.server() else { return }
        for (key, value) in SeaweedFS.environment where key != "HOME" { setenv(key, value, 1) }
        let dir = Fixtures.temporaryDirectory()
        let (local, _) = try Self.sourceRepository(dir)
        let bucket = try Repository.open(server.location("copy"), create: true)
        try Self.checkCopies(from: local, to: bucket)
        let back = try Repository.open(dir.appendingPathComponent("back").path, create: true)
        try Self.checkCopies(from: bucket, to: back)
        let report = try SnapshotCopy.run(from: local, to: bucket, entries: try local.catalog.entries())
        #expect(
            report.requestsFrom == nil && (report.requestsTo?.total ?? 99) <= 8,
            "a copy with nothing to send: \(String(describing: report.requestsTo))")
    }
}
