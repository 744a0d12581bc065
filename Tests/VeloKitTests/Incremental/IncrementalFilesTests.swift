import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Uploaded files in incremental snapshots (`FileSegmentWriter`), and every front door writing format 2: a whole
/// app's unchanged tenant costs what an unchanged database does; a changed, added or deleted file is exactly what
/// the next snapshot holds; every snapshot reads back (verify, export) with its files byte for byte.
@Suite struct IncrementalFilesTests {
    func demoApp(tenants: Int = 2, files: Int = 3, name: String = #function) throws -> (app: String, repo: Repository, dir: URL) {
        let dir = Fixtures.temporaryDirectory(name)
        var options = DemoApp.Options()
        options.tenants = tenants
        options.posts = 40
        options.files = files
        let app = dir.appendingPathComponent("app").path
        _ = try DemoApp(options: options).write(to: app)
        return (app, try Repository.open(dir.appendingPathComponent("repo").path, create: true), dir)
    }

    /// Sets a file's modification time back an hour: out of the racy window, as files are between hourly backups.
    func age(_ path: String) {
        var times = [timespec(tv_sec: time(nil) - 3_600, tv_nsec: 0), timespec(tv_sec: time(nil) - 3_600, tv_nsec: 0)]
        utimensat(AT_FDCWD, path, &times, 0)
    }

    func uploads(_ app: String, tenant: Int) -> String { app + "/storage/tenants/\(tenant)/app/uploads/collections/posts" }

    func backUp(_ app: String, _ repo: Repository) throws -> AppBackup.Report {
        let layout = try AppLayout.load(app)
        let report = try AppBackup.run(layout: layout, sources: try layout.sources(), repository: repo, options: AppBackup.Options())
        #expect(report.failed.isEmpty, "\(report.sources.map { $0.reason ?? "" })")
        return report
    }

    /// The `files/…` entries of a snapshot as every reader sees them (path to SHA-256 of the bytes rebuilt).
    func files(of id: String, in repo: Repository) throws -> [String: String] {
        let selected = try SelectedSnapshot.resolve(id, repository: repo)
        final class Collect: FileEntryHandler {
            var digests: [String: String] = [:]
            var digest = SHA256Digest()
            func wants(_ entryPath: String) -> Bool { true }
            func begin(_ entryPath: String, size: Int64) throws { digest = SHA256Digest() }
            func write(_ bytes: UnsafeRawBufferPointer) throws { digest.update(bytes) }
            func end(_ entryPath: String, bytes: Int64, sha256: String) throws { digests[entryPath] = sha256 }
        }
        let collect = Collect()
        let reader = try SnapshotReader(selected)
        #expect(try reader.scan(tables: [], files: collect, onRow: { _, _ in true }) != nil)
        return collect.digests
    }

    func segments(of id: String, in repo: Repository) throws -> SegmentsDocument? {
        guard let entry = repo.catalog.entry(id) else { return nil }
        return try SegmentedSnapshot.read(repo.path(entry.archive)).segments
    }

    func onDisk(_ app: String, tenant: Int) throws -> [String: String] {
        let root = uploads(app, tenant: tenant)
        var result: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: root) {
            let entry = ArchiveFormat.fileEntryPath(relative: "uploads/collections/posts/" + name)!
            result[entry] = SHA256Digest.of(Array(try Data(contentsOf: URL(fileURLWithPath: root + "/" + name))))
        }
        return result
    }

    @Test func aSecondBackupOfAnUnchangedAppAddsAFewKilobytesPerTenantAndReadsNoFile() throws {
        let (app, repo, _) = try demoApp()
        for tenant in 1...2 {
            for name in try FileManager.default.contentsOfDirectory(atPath: uploads(app, tenant: tenant)) {
                age(uploads(app, tenant: tenant) + "/" + name)
            }
        }
        let first = try backUp(app, repo)
        let second = try backUp(app, repo)
        for (a, b) in zip(first.sources, second.sources) {
            let entryA = try #require(a.snapshot.flatMap(repo.catalog.entry))
            let entryB = try #require(b.snapshot.flatMap(repo.catalog.entry))
            #expect(try repo.catalog.detail(entryB.id).header.version == 2, "\(b.source): an incremental snapshot")
            #expect(entryB.addedBytes <= 64 << 10, "\(b.source): the unchanged second snapshot added \(entryB.addedBytes) bytes")
            #expect(entryB.storedBytes == 0, "\(b.source): no new piece")
            #expect(entryB.files == entryA.files && entryB.fileBytes == entryA.fileBytes)
            #expect(b.snapshot != nil && b.source == a.source)
        }
        // Files unchanged by size and time are referenced unread: their content on disk may even have changed
        // (as restic's parent rule, an edit that keeps size and time goes unseen); the snapshot holds the old bytes.
        let tenant = try #require(second.sources.first { $0.source == "tenant-001" }?.snapshot)
        let document = try #require(try segments(of: tenant, in: repo))
        let filesTable = try #require(document.files)
        #expect(filesTable.parts.count == 3 && filesTable.newSegments == 0 && document.version == 4)
        #expect(try files(of: tenant, in: repo) == onDisk(app, tenant: 1))
    }

    @Test func changedAddedAndDeletedFilesAreWhatTheNextSnapshotHolds() throws {
        let (app, repo, dir) = try demoApp(tenants: 1, files: 3)
        let root = uploads(app, tenant: 1)
        // A large file of several segments, so that a change in its middle stores one segment, not the file.
        var big = [UInt8](repeating: 0, count: 3 * SegmentFormat.maxSegmentBytes + 1234)
        var random = SeededRandom(seed: 42)
        for i in big.indices { big[i] = UInt8(truncatingIfNeeded: random.next()) }
        try Data(big).write(to: URL(fileURLWithPath: root + "/big.bin"))
        try Data().write(to: URL(fileURLWithPath: root + "/empty.txt"))
        for name in try FileManager.default.contentsOfDirectory(atPath: root) { age(root + "/" + name) }
        let first = try #require(try backUp(app, repo).sources.last?.snapshot)
        #expect(try files(of: first, in: repo) == onDisk(app, tenant: 1))

        let names = try FileManager.default.contentsOfDirectory(atPath: root).filter { !$0.hasSuffix(".bin") && !$0.hasSuffix(".txt") }
            .sorted()
        try FileManager.default.removeItem(atPath: root + "/" + names[0])
        try Data("a new upload".utf8).write(to: URL(fileURLWithPath: root + "/new.txt"))
        big[SegmentFormat.maxSegmentBytes + 10] ^= 0xFF
        try Data(big).write(to: URL(fileURLWithPath: root + "/big.bin"))
        let second = try #require(try backUp(app, repo).sources.last?.snapshot)
        #expect(try files(of: second, in: repo) == onDisk(app, tenant: 1))
        let document = try #require(try segments(of: second, in: repo))
        let table = try #require(document.files)
        #expect(table.newSegments == 2, "one segment of the big file and the new file: \(table.newSegments)")
        #expect(table.newRawBytes == Int64(SegmentFormat.maxSegmentBytes + "a new upload".utf8.count))
        // The first snapshot still reads as it was, and both export to self-contained archives with their files.
        #expect(try files(of: first, in: repo).count == 5)
        for id in [first, second] {
            let report = try Verifier.verify(try SelectedSnapshot.resolve(id, repository: repo), progress: nil)
            #expect(report.ok, "\(report.problems)")
            let out = dir.appendingPathComponent("\(id).tar.zst").path
            _ = try SnapshotExport.run(try SelectedSnapshot.resolve(id, repository: repo), out: out)
            let exported = try ArchiveAudit.run(path: out)
            #expect(exported.problems.isEmpty, "\(exported.problems)")
            #expect(exported.manifest?.entries.filter { ArchiveFormat.isFileEntry($0.path) }.count == 5)
        }
    }

    @Test func aFileRewrittenWithinTheRacyWindowIsReadAgain() throws {
        let (app, repo, _) = try demoApp(tenants: 1, files: 1)
        let root = uploads(app, tenant: 1)
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: root).first)
        // Written just now (demo files carry their records' older times).
        var now = [timespec(tv_sec: time(nil), tv_nsec: 0), timespec(tv_sec: time(nil), tv_nsec: 0)]
        utimensat(AT_FDCWD, root + "/" + name, &now, 0)
        var info = stat()
        stat(root + "/" + name, &info)
        let first = try #require(try backUp(app, repo).sources.last?.snapshot)
        // Same size, same time to the nanosecond, other bytes, all within the 2 s after the backup began.
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: root + "/" + name)))
        bytes[bytes.count / 2] ^= 0x55
        try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + name))
        var times = [info.st_mtim, info.st_mtim]
        utimensat(AT_FDCWD, root + "/" + name, &times, 0)
        let second = try #require(try backUp(app, repo).sources.last?.snapshot)
        #expect(try files(of: second, in: repo) == onDisk(app, tenant: 1))
        #expect(try files(of: first, in: repo) != onDisk(app, tenant: 1))
    }

    @Test func theSafetySnapshotOfARestoreIsIncrementalAndCarriesItsTenant() throws {
        let (app, repo, _) = try demoApp(tenants: 2, files: 1)
        let report = try backUp(app, repo)
        let tenant = try #require(report.sources.first { $0.source == "tenant-001" })
        let entry = try #require(tenant.snapshot.flatMap(repo.catalog.entry))
        let target = try #require(tenant.database)
        try Database(path: target, mode: .readWrite).execute("DELETE FROM _velo_posts WHERE rowid % 2 = 0")
        let result = try Restore.run(
            .catalogued(entry, repository: repo), target: target, options: .init(), repository: repo,
            safetySnapshot: true, busyTimeout: .seconds(5), progress: nil, connectionSetup: nil)
        let safety = try #require(result.safetySnapshot.flatMap(repo.catalog.entry))
        #expect(try repo.catalog.detail(safety.id).header.version == 2, "the safety snapshot is incremental")
        #expect(safety.addedBytes <= 64 << 10, "it shares the tenant's unchanged tables: \(safety.addedBytes) bytes")
        #expect(safety.app?.tenantName == "tenant-001" && safety.tags.contains("tenant:tenant-001") && safety.tags.contains("pre-restore"))
        // `latest` of tenant-002 is tenant-002's snapshot, not the newer safety snapshot of tenant-001.
        let latest = try SelectedSnapshot.resolve("latest", repository: repo, filter: SnapshotFilter(tenant: "tenant-002"))
        #expect(latest.catalogEntry?.app?.tenantName == "tenant-002")
        #expect(try SelectedSnapshot.resolve("latest", repository: repo, filter: SnapshotFilter(tenant: "tenant-001")).id == safety.id)
        #expect(
            try SelectedSnapshot.resolve("latest", repository: repo, filter: SnapshotFilter(tags: ["landlord"])).catalogEntry?.app?.tenantID
                == nil)
        #expect(try SelectedSnapshot.resolve("latest", repository: repo, filter: SnapshotFilter(source: target)).id == safety.id)
        #expect(throws: VeloError.self) {
            try SelectedSnapshot.resolve("latest", repository: repo, filter: SnapshotFilter(tenant: "nobody"))
        }
    }

    @Test func aPayloadSnapshotIsIncremental() throws {
        let dir = Fixtures.temporaryDirectory()
        let repo = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        let db = try Fixtures.demo(posts: 10)
        let payload = dir.appendingPathComponent("payload.json").path
        let output = try PayloadOutput.file(payload)
        _ = try TransferExport.fromDatabase(db, options: .init(), to: output, busyTimeout: .seconds(5), progress: nil)
        try output.finish()
        let result = try PayloadSnapshot.run(payload: payload, repository: repo, tags: [])
        #expect(try repo.catalog.detail(result.id).header.version == 2)
    }

    /// A snapshot of the tenant's database without its files in between (a `--db` backup) does not make the next
    /// whole-app backup store every file again: files are reused from the newest snapshot that holds them.
    @Test func aSnapshotWithoutFilesInBetweenDoesNotMakeEveryFileNew() throws {
        let (app, repo, _) = try demoApp(tenants: 1, files: 3)
        for name in try FileManager.default.contentsOfDirectory(atPath: uploads(app, tenant: 1)) {
            age(uploads(app, tenant: 1) + "/" + name)
        }
        _ = try backUp(app, repo)
        let tenant = try #require(try AppLayout.load(app).sources().first { $0.kind == .tenant }?.databasePath)
        try Database(path: tenant, mode: .readWrite).execute("UPDATE _velo_posts SET views = views + 1 WHERE rowid = 1")
        let databaseOnly = try Backup.run(databasePath: tenant, repository: repo, options: .init())
        #expect(databaseOnly.files == nil && repo.catalog.entry(databaseOnly.id)?.app?.tenantName == "tenant-001")
        let next = try #require(try backUp(app, repo).sources.last?.snapshot)
        let files = try #require(try segments(of: next, in: repo)?.files)
        #expect(files.parts.count == 3 && files.newSegments == 0, "every file reused: \(files.newSegments) new segments")
    }

    /// A tenant restore's safety snapshot holds the tenant's files too: it undoes the files as well, and the
    /// tenant's newest snapshot is still a whole one. Files a restore writes aside are never taken for uploads.
    @Test func aTenantRestoresSafetySnapshotHoldsItsFiles() throws {
        let (app, repo, _) = try demoApp(tenants: 1, files: 2)
        let first = try #require(try backUp(app, repo).sources.last?.snapshot)
        let layout = try AppLayout.load(app)
        let selected = try SelectedSnapshot.resolve(first, repository: repo)
        let target = try TenantRestore.target(app: app, header: try repo.catalog.detail(first).header)
        try Data("aside".utf8).write(to: URL(fileURLWithPath: uploads(app, tenant: 1) + "/x.png.velo-restore-4194305"))
        let restored = try TenantRestore.run(
            selected, into: target, manifest: try repo.catalog.detail(first).manifest, options: .init(), repository: repo)
        let safety = try #require(restored.database.safetySnapshot.flatMap(repo.catalog.entry))
        #expect(safety.files == 2, "the safety snapshot holds the tenant's 2 uploads, not the file written aside")
        #expect(try SelectedSnapshot.resolve("latest", repository: repo, filter: SnapshotFilter(tenant: "tenant-001")).id == safety.id)
        #expect(layout.root == FileSystem.absolute(app))
    }
}
