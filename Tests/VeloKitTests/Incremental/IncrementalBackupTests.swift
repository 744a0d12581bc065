import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Incremental snapshots (format version 2): each kind of change restores to a database that dumps exactly like
/// the source, and adds only about what changed.
@Suite struct IncrementalBackupTests {
    static let sqlite3 = NewDatabaseRestoreTests.sqlite3

    /// A demo tenant with the awkward tables a restore must keep exactly (a WITHOUT ROWID table, AUTOINCREMENT).
    static func source(posts: Int, name: String) throws -> String {
        let path = try Fixtures.demo(posts: posts, journalMode: "wal", name: name)
        let db = try Database(path: path, mode: .readWrite)
        try db.execute(
            """
            CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;
            INSERT INTO kv VALUES ('b', x'00'), ('a', NULL), ('c', 'three');
            CREATE TABLE counters (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER);
            INSERT INTO counters (n) VALUES (1), (2), (3); DELETE FROM counters WHERE id = 3;
            """)
        return path
    }

    /// Makes the source's last modification old enough for its state to be trusted (`SourceState.racyWindow`).
    static func settle(_ path: String) {
        for file in [path, path + "-wal"] where FileManager.default.fileExists(atPath: file) {
            var info = stat()
            if stat(file, &info) == 0, time(nil) - info.st_mtim.tv_sec > 5 { continue }  // already settled: keep its ctime
            var times = [timeval(tv_sec: time(nil) - 10, tv_usec: 0), timeval(tv_sec: time(nil) - 10, tv_usec: 0)]
            utimes(file, &times)
        }
    }

    static func options() -> Backup.Options {
        var options = Backup.Options()
        options.incremental = true
        options.includeFramework = true
        options.partBytes = 64 * 1024  // several parts per table
        return options
    }

    static func restoreDump(_ repo: Repository, _ id: String, _ dir: URL) throws -> String {
        let entry = try #require(try repo.catalog.entries().first { $0.id == id })
        let target = dir.appendingPathComponent("restored-\(id).sqlite").path
        _ = try NewDatabaseRestore.run(
            .catalogued(entry, repository: repo), manifest: try repo.catalog.detail(entry.id).manifest,
            archiveSHA256: entry.archiveSHA256, to: target)
        return try NewDatabaseRestoreTests().dump(target)
    }

    static func document(_ result: Backup.Result) throws -> SegmentsDocument {
        try #require(try SegmentedSnapshot.read(result.archive).segments)
    }

    @Test(.enabled(if: IncrementalBackupTests.sqlite3 != nil, "sqlite3 is not installed: the .dump comparison is skipped"))
    func everyKindOfChangeRestoresExactlyAndAddsOnlyWhatChanged() throws {
        let source = try Self.source(posts: 3_000, name: "changes")
        let dir = Fixtures.temporaryDirectory("changes")
        let repo = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        let dumper = NewDatabaseRestoreTests()
        // Each change through a connection of its own, closed before the backup, as another process would.
        func change(_ sql: String) throws { try Database(path: source, mode: .readWrite).execute(sql) }

        func backup(_ step: String) throws -> (Backup.Result, SegmentsDocument) {
            Self.settle(source)
            let result: Backup.Result
            do { result = try Backup.run(databasePath: source, repository: repo, options: Self.options()) } catch {
                Issue.record("\(step): \(error)")
                throw error
            }
            let document = try Self.document(result)
            #expect(try Self.restoreDump(repo, result.id, dir) == dumper.dump(source), "\(step): the restore differs from the source")
            let entry = try #require(try repo.catalog.entries().first { $0.id == result.id })
            let report = try Verifier.verify(.catalogued(entry, repository: repo))
            #expect(report.ok, "\(step): \(report.problems)")
            return (result, document)
        }

        let (first, full) = try backup("first")
        #expect(first.sha256.count == 64)
        let fullBytes = full.storedBytes
        #expect(fullBytes > 0)

        let (_, unchanged) = try backup("unchanged")
        #expect(unchanged.storedBytes == 0, "an unchanged database stores no piece")
        #expect(unchanged.sourceState != nil && unchanged.sourceState == full.sourceState)
        #expect(
            unchanged.tables
                == full.tables.map {
                    var t = $0; t.newSegments = 0; t.newRawBytes = 0; return t
                })

        // 1% of posts, scattered: every 100th row.
        try change("UPDATE _velo_posts SET views = coalesce(views, 0) + 1 WHERE rowid % 100 = 0")
        let (_, updated) = try backup("1% update")
        let posts = try #require(updated.table("_velo_posts"))
        #expect(
            Double(posts.newRawBytes) <= 0.08 * Double(posts.rawBytes), "1% of rows changed \(posts.newRawBytes) of \(posts.rawBytes) bytes"
        )
        #expect(updated.tables.filter { $0.name != "_velo_posts" }.allSatisfy { $0.newSegments == 0 })
        #expect(Double(updated.storedBytes) <= 0.10 * Double(fullBytes), "stored \(updated.storedBytes) of a full \(fullBytes)")

        // Inserts at the end.
        try change(
            "INSERT INTO _velo_comments SELECT id || '-new', post, author, body, created_at, updated_at FROM _velo_comments WHERE rowid <= 20"
        )
        let (_, inserted) = try backup("inserts")
        let comments = try #require(inserted.table("_velo_comments"))
        #expect(comments.newSegments <= 4, "20 rows appended touched \(comments.newSegments) segments")

        // Deletes in the middle.
        try change("DELETE FROM _velo_posts_tags_tags_pivot WHERE rowid BETWEEN 500 AND 520")
        let (_, deleted) = try backup("deletes")
        let pivot = try #require(deleted.table("_velo_posts_tags_tags_pivot"))
        #expect(pivot.newSegments <= 3, "a deleted run of rows touched \(pivot.newSegments) segments")

        // A new column touches every row of the table: all of it is new, and it still restores exactly.
        try change("ALTER TABLE _velo_tags ADD COLUMN shade TEXT DEFAULT 'dark'")
        let (_, altered) = try backup("new column")
        let tags = try #require(altered.table("_velo_tags"))
        #expect(tags.newSegments == tags.segments)
    }

    @Test func anUnchangedSourceIsNotReadAgainButAChangedOneIs() throws {
        let source = try Self.source(posts: 200, name: "state")
        let repo = try Repository.open(Fixtures.temporaryDirectory("state").appendingPathComponent("repo").path, create: true)
        Self.settle(source)
        let a = try Self.document(try Backup.run(databasePath: source, repository: repo, options: Self.options()))
        let b = try Self.document(try Backup.run(databasePath: source, repository: repo, options: Self.options()))
        #expect(a.sourceState != nil && a.sourceState == b.sourceState)
        // Two commits that leave every value as it was: the state changed, so the rows are read, and every segment
        // is found again.
        try Database(path: source, mode: .readWrite).execute("UPDATE _velo_posts SET title = title || '!' WHERE rowid = 1")
        try Database(path: source, mode: .readWrite).execute(
            "UPDATE _velo_posts SET title = substr(title, 1, length(title) - 1) WHERE rowid = 1")
        Self.settle(source)
        let c = try Self.document(try Backup.run(databasePath: source, repository: repo, options: Self.options()))
        #expect(c.sourceState != b.sourceState, "a commit changes the state")
        #expect(c.storedBytes == 0)
    }

    /// With the catalog cache current, the previous snapshot of the source is found from the cache (the other
    /// sources' snapshots are not read), and an unchanged source still stores nothing.
    @Test func thePreviousSnapshotIsFoundThroughTheCatalogCache() throws {
        let source = try Self.source(posts: 200, name: "cached")
        let other = try Self.source(posts: 50, name: "cachedother")
        let repo = try Repository.open(Fixtures.temporaryDirectory("cached").appendingPathComponent("repo").path, create: true)
        Self.settle(source)
        Self.settle(other)
        let first = try Self.document(try Backup.run(databasePath: source, repository: repo, options: Self.options()))
        _ = try Backup.run(databasePath: other, repository: repo, options: Self.options())
        CatalogIndexTests.settle(repo)
        _ = try repo.catalog.index.summaries()
        let cached = try #require(repo.catalog.index.snapshots(of: FileSystem.absolute(source)))
        #expect(cached.count == 1)
        let previous = try #require(try SegmentedSnapshot.previous(in: repo, sourcePath: FileSystem.absolute(source)))
        #expect(previous.segments == first)
        let second = try Self.document(try Backup.run(databasePath: source, repository: repo, options: Self.options()))
        #expect(second.storedBytes == 0 && second.sourceState == first.sourceState)
    }

    @Test func exportMakesAFullArchiveOfFormatVersion1WithTheSameRows() throws {
        let source = try Self.source(posts: 300, name: "export")
        let dir = Fixtures.temporaryDirectory("export")
        let repo = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        let result = try Backup.run(databasePath: source, repository: repo, options: Self.options())
        let entry = try #require(try repo.catalog.entries().first)
        let out = dir.appendingPathComponent("lone.tar.zst").path
        let exported = try SnapshotExport.run(.catalogued(entry, repository: repo), out: out)
        #expect(exported.id == result.id)
        let audit = try ArchiveAudit.run(path: out)
        #expect(audit.problems.isEmpty, "\(audit.problems)")
        #expect(audit.header?.version == 1 && audit.manifest?.version == 1)
        let recorded = try repo.catalog.detail(entry.id).manifest
        #expect(
            audit.manifest?.entries.filter { $0.path != ArchiveFormat.headerPath }
                == recorded.entries.filter { $0.path != ArchiveFormat.headerPath })
        #expect(throws: VeloError.self) { try SnapshotExport.run(.catalogued(entry, repository: repo), out: out) }
        // A damaged pack is found while its parts stream into the new archive: nothing is left at the new path,
        // and no temporary file either.
        let pack = try #require(FileManager.default.subpathsOfDirectory(atPath: repo.root + "/data/packs").first { $0.hasSuffix(".pack") })
        let packPath = repo.root + "/data/packs/" + pack
        var packBytes = try #require(FileManager.default.contents(atPath: packPath))
        packBytes[packBytes.count / 2] ^= 0x40
        try packBytes.write(to: URL(fileURLWithPath: packPath))
        let second = dir.appendingPathComponent("second.tar.zst").path
        #expect(throws: ArchiveDamage.self) { try SnapshotExport.run(.catalogued(entry, repository: repo), out: second) }
        #expect(!FileManager.default.fileExists(atPath: second))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).allSatisfy { !$0.contains(".tmp-") })
        // The incremental archive alone, away from its repository, says what it needs.
        let moved = dir.appendingPathComponent("moved.tar.zst").path
        try FileManager.default.copyItem(atPath: result.archive, toPath: moved)
        #expect(throws: ArchiveDamage.self) { try SnapshotReader(path: moved).scan { _, _ in true } }
    }
}

/// The pack writer's pipeline: with frames compressed on the reading thread or on workers, and with the
/// reader made to wait for frames after every couple of segments, snapshots still restore exactly.
@Suite struct IncrementalPipelineTests {
    @Test(
        .enabled(if: IncrementalBackupTests.sqlite3 != nil, "sqlite3 is not installed: the .dump comparison is skipped"),
        arguments: [(Int32(0), 2), (Int32(2), 2), (Int32(1), 1 << 14)])
    func snapshotsRestoreExactlyWhateverTheWorkersAndTheWaits(workers: Int32, pendingLimit: Int) throws {
        let name = "pipeline-\(workers)-\(pendingLimit)"
        let source = try IncrementalBackupTests.source(posts: 600, name: name)
        let dir = Fixtures.temporaryDirectory(name)
        let repo = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        var options = IncrementalBackupTests.options()
        options.workers = workers
        options.pendingSegmentLimit = pendingLimit
        for change in [nil, "UPDATE _velo_posts SET views = coalesce(views, 0) + 1 WHERE rowid % 37 = 0"] {
            if let change { try Database(path: source, mode: .readWrite).execute(change) }
            IncrementalBackupTests.settle(source)
            let result = try Backup.run(databasePath: source, repository: repo, options: options)
            if change != nil {
                // The posts changed a little: their new frame is a delta frame, made on any of the threads.
                #expect(try IncrementalBackupTests.document(result).table("_velo_posts")?.deltaFrames == true)
            }
            #expect(try IncrementalBackupTests.restoreDump(repo, result.id, dir) == NewDatabaseRestoreTests().dump(source))
            let entry = try #require(try repo.catalog.entries().first { $0.id == result.id })
            let report = try Verifier.verify(.catalogued(entry, repository: repo))
            #expect(report.ok, "\(report.problems)")
        }
    }
}

/// What an incremental snapshot costs is what listings and status show: its archive and the pieces it stored.
@Suite struct IncrementalSizeTests {
    @Test func listingsAndTheCatalogCacheCountWhatEachSnapshotAdded() throws {
        let source = try IncrementalBackupTests.source(posts: 300, name: "sizes")
        let repo = try Repository.open(Fixtures.temporaryDirectory("sizes").appendingPathComponent("repo").path, create: true)
        IncrementalBackupTests.settle(source)
        let first = try Backup.run(databasePath: source, repository: repo, options: IncrementalBackupTests.options())
        let unchanged = try Backup.run(databasePath: source, repository: repo, options: IncrementalBackupTests.options())
        let entries = try repo.catalog.entries()
        let a = try #require(entries.first { $0.id == first.id })
        let b = try #require(entries.first { $0.id == unchanged.id })
        let stored = try IncrementalBackupTests.document(first).storedBytes
        #expect(stored > 0 && a.storedBytes == stored)
        #expect(b.storedBytes == 0)
        #expect(a.addedBytes == a.archiveBytes + stored)
        #expect(SnapshotListing(a, in: repo).bytes == a.addedBytes)
        #expect(SnapshotListing(b, in: repo).bytes == b.archiveBytes)
        #expect(first.bytes == a.addedBytes)
        // verify says how much it read: the archive and the pack frames behind it.
        let report = try Verifier.verify(.catalogued(a, repository: repo))
        #expect(report.ok && report.bytes > a.archiveBytes && report.bytes <= a.addedBytes)
        let summary = try #require(repo.catalog.index.summaries().sources.first)
        #expect(summary.recent.map(\.bytes) == [a.addedBytes, b.addedBytes])
    }
}
