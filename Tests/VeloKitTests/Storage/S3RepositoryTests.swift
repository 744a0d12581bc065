import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The engine end to end on a bucket: the repository opened by its `s3:` location, incremental backups, verify,
/// a restore equal to one from a local repository, a prune that sweeps, and `velo init` again.
@Suite struct S3RepositoryTests {
    /// The repository at `location`, opened afresh as a new velo process would (its own storage and requests).
    static func repository(_ location: String) throws -> Repository {
        try Repository.open(storage: try S3Storage(location, environment: SeaweedFS.environment), create: true, named: location)
    }

    /// SeaweedFS's credentials with a cache folder of its own: what another machine reading the bucket sees.
    static func environmentOfAnotherMachine() -> [String: String] {
        var environment = SeaweedFS.environment
        environment["XDG_CACHE_HOME"] = Fixtures.temporaryDirectory().path
        return environment
    }

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

    /// Request economy: what each step costs on a bucket, counted by the storage (every attempt). The bounds are
    /// today's measured figures; a change that makes an operation chattier fails here.
    @Test func requestsPerOperationStayBounded() throws {
        guard let server = try S3StorageTests.server() else { return }
        for (key, value) in SeaweedFS.environment where key != "HOME" { setenv(key, value, 1) }
        let cacheHome = Fixtures.temporaryDirectory().path
        setenv("XDG_CACHE_HOME", cacheHome, 1)
        defer { unsetenv("XDG_CACHE_HOME") }
        let location = server.location("economy")
        let source = try Fixtures.demo(posts: 300)
        // Written long enough ago that its state is recorded (a file changed in the last 2 s is always scanned).
        var times = [timeval(tv_sec: time(nil) - 3600, tv_usec: 0), timeval(tv_sec: time(nil) - 3600, tv_usec: 0)]
        #expect(utimes(source, &times) == 0)
        // Each step opens the repository afresh, as a new velo process would.
        for _ in 0..<3 {
            _ = try Backup.run(databasePath: source, repository: try Repository.open(location, create: true), options: .init())
        }
        let unchanged = try Backup.run(databasePath: source, repository: try Repository.open(location, create: true), options: .init())
        let requests = try #require(unchanged.requests)
        // The lock, the sweep marker's HEAD, the trash and catalog listings, the archive and its two catalog
        // objects, the lock's release: no GET (the previous archive is this machine's copy), no marker written.
        #expect(requests.total <= 8, "an unchanged backup made \(requests)")
        #expect(requests.get == 0 && requests.list <= 2 && requests.delete <= 1, "\(requests)")

        // Listing the snapshots: the identity, the trash and one page of the catalog; every entry from the cache.
        let reader = try Repository.open(location)
        let before = try #require(reader.storage.requests)
        #expect(try reader.catalog.scan().entries.count == 4)
        let listing = try #require(reader.storage.requests) - before
        #expect(listing.total <= 3 && listing.get <= 1, "listing the snapshots made \(listing)")

        // The cache is only a saving: deleted, the same listing reads every entry again and agrees.
        try FileManager.default.removeItem(atPath: try #require(reader.storage.cacheDirectory))
        let cold = try Repository.open(location)
        #expect(try cold.catalog.scan().entries.map(\.id).sorted() == reader.catalog.scan().entries.map(\.id).sorted())
        #expect(try #require(cold.storage.requests).get >= 4, "a cold cache reads every entry")

        // A verification reports its requests too.
        let report = try Verifier.verify(.catalogued(try #require(cold.catalog.entry(unchanged.id)), repository: cold))
        #expect(report.ok && (report.requests?.total ?? 0) > 0)

        // The same rows under another file state (touched): every row is read again, and no list is looked for in
        // the bucket (each is the previous snapshot's own).
        var later = [timeval(tv_sec: time(nil) - 1800, tv_usec: 0), timeval(tv_sec: time(nil) - 1800, tv_usec: 0)]
        #expect(utimes(source, &later) == 0)
        let touched = try Backup.run(databasePath: source, repository: try Repository.open(location, create: true), options: .init())
        let touchedRequests = try #require(touched.requests)
        #expect(touchedRequests.head <= 1, "a backup of the same rows looked for lists: \(touchedRequests)")

        // A changed source: the previous snapshot's segment lists come from the cache (they are immutable).
        try Database(path: source, mode: .readWrite).execute("UPDATE _velo_posts SET views = coalesce(views, 0) + 1 WHERE rowid = 7")
        let warm = try Repository.open(location, create: true)
        let changed = try Backup.run(databasePath: source, repository: warm, options: .init())
        let changedRequests = try #require(changed.requests)
        #expect(changedRequests.get <= 2, "a changed backup read lists from the bucket: \(changedRequests)")
    }

    /// On a bucket the listings of a full recovery (trash, archives, uploads), which grow with the repository,
    /// run only when a writer may not have finished: a lock taken over, the sweep marker (which `velo unlock`
    /// sets), a damaged catalog entry, or a day since the last one on this machine. An archive whose catalog
    /// entry was never written is catalogued by the first writer that has such a reason.
    @Test func aFullRecoveryRunsWhenAWriterMayNotHaveFinished() throws {
        guard let server = try S3StorageTests.server() else { return }
        let location = server.location("recovery")
        let source = try Fixtures.demo(posts: 60)
        let open = { try Self.repository(location) }
        let first = try Backup.run(databasePath: source, repository: try open(), options: .init())
        let second = try Backup.run(databasePath: source, repository: try open(), options: .init())
        // A crash between the archive and its catalog entry, as it were.
        let repository = try open()
        try repository.storage.remove(.catalogEntry(second.id))
        try repository.storage.remove(.catalogDetail(second.id))
        // A writer with no reason to doubt lists neither the archives nor the trash.
        let before = try #require(repository.storage.requests)
        try repository.lock(command: "velo backup").release()
        let quiet = try #require(repository.storage.requests) - before
        // (The catalog and the removals in progress, as any reader's listing of the snapshots: not the archives.)
        #expect(quiet.list <= 2, "a quiet recovery listed \(quiet)")
        #expect(try repository.catalog.entries().map(\.id) == [first.id])
        // A lock whose process is gone: the writer that takes it over recovers in full.
        let dead = JSONValue.object([
            ("pid", .int(2_000_000_000)), ("host", .string(FileSystem.hostName)), ("time", .string("2026-11-01T03:00:00Z")),
            ("command", .string("velo backup")),
        ])
        #expect(try repository.storage.saveIfAbsent(.exclusiveLock, Array(JSONWriter.string(dead).utf8)))
        let taker = try open()
        try taker.lock(command: "velo backup").release()
        #expect(try Set(taker.catalog.entries().map(\.id)) == [first.id, second.id], "the orphan archive is catalogued")
        // `velo unlock` of a writer's lock leaves the marker: the next writer recovers in full and clears it.
        try taker.storage.remove(.catalogEntry(second.id))
        #expect(try taker.storage.saveIfAbsent(.exclusiveLock, Array(JSONWriter.string(dead).utf8)))
        #expect(try taker.unlock(force: false) != nil)
        #expect(try taker.storage.stat(.sweepMarker) != nil)
        let next = try open()
        try next.lock(command: "velo backup").release()
        #expect(try Set(next.catalog.entries().map(\.id)) == [first.id, second.id])
        #expect(try next.storage.stat(.sweepMarker) == nil, "swept and cleared")
    }

    /// A prune's sweep reads each kept archive's `segments.json` once per machine (`ArchiveMarks`): the next
    /// prune reads only the archives it has not seen, and what it removes is what a sweep from scratch removes.
    @Test func aPruneReadsOnlyTheArchivesItHasNotSeen() throws {
        guard let server = try S3StorageTests.server() else { return }
        let location = server.location("marks")
        let source = try Fixtures.demo(posts: 80)
        let open = { try Self.repository(location) }
        let db = try Database(path: source, mode: .readWrite)
        let policy = try RetentionPolicy(json: JSONParser.parse(Array(#"{"keep_last":3}"#.utf8)))
        func backup(_ n: Int) throws {
            try db.execute("UPDATE _velo_posts SET title = title || '\(n)' WHERE rowid % 5 = \(n % 5)")
            _ = try Backup.run(databasePath: source, repository: try open(), options: .init())
        }
        for n in 0..<4 { try backup(n) }
        let first = try Prune.run(repository: try open(), policy: policy, dryRun: false)
        #expect(first.remove.count == 1)
        try backup(4)
        let second = try Prune.run(repository: try open(), policy: policy, dryRun: false)
        #expect(second.remove.count == 1)
        // The new snapshot's archive is the only one read (a ranged GET); the lists come from the cache.
        let requests = try #require(second.requests)
        #expect(requests.get <= 1, "the second prune read \(requests)")
        // The marks agree with a sweep that reads every archive: nothing is left to remove, and all verify.
        let elsewhere = Self.environmentOfAnotherMachine()
        let cold = try Repository.open(storage: try S3Storage(location, environment: elsewhere), named: location)
        #expect(PieceSweep.run(cold, dryRun: true).files.isEmpty)
        // A kept copy damaged on this machine (it still parses, but names no list) is read again, never trusted:
        // trusted, the sweep would take every piece for unused.
        let warm = try open()
        let marks = (try #require(warm.storage.cacheDirectory) as NSString).appendingPathComponent("marks")
        let kept = try FileManager.default.contentsOfDirectory(atPath: marks).filter { $0.hasSuffix(".json") }
        #expect(!kept.isEmpty)
        for name in kept {
            let path = (marks as NSString).appendingPathComponent(name)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let header = text.prefix { $0 != "\n" }
            try (header + "\n" + #"{"lists":[],"tables":{}}"#).write(toFile: path, atomically: true, encoding: .utf8)
        }
        #expect(PieceSweep.run(warm, dryRun: true).files.isEmpty, "damaged marks were trusted")
        for entry in try cold.catalog.entries() { #expect(try Verifier.verify(.catalogued(entry, repository: cold)).ok) }
    }

    /// A lock held on a bucket beats as on a folder: its heartbeat object is written every interval (its
    /// Last-Modified keeps the lock fresh for writers of other hosts) and removed on release.
    @Test func aLockOnABucketHasAHeartbeat() throws {
        guard let server = try S3StorageTests.server() else { return }
        let location = server.location("heartbeat")
        let repository = try Self.repository(location)
        repository.lockTiming = LockTiming(refreshInterval: .milliseconds(300), staleAfter: .seconds(120))
        let lock = try repository.lock(command: "velo backup")
        usleep(1_200_000)
        let beat = LockHeartbeat.name(of: .exclusiveLock, nonce: try #require(lock.owner.nonce))
        let info = try #require(try repository.storage.stat(beat), "no heartbeat object")
        #expect(abs(info.modified - Timestamp.now) < 60, "the heartbeat is fresh by the server's clock")
        lock.release()
        #expect(try repository.storage.stat(beat) == nil && repository.storage.stat(.exclusiveLock) == nil)
    }

    /// The cache is never the proof: `verify` reads every segment list from the bucket, so a list damaged there
    /// is found even while this machine's copy is sound (a backup or restore may use the copy).
    @Test func verifyReadsTheBucketNotTheCache() throws {
        guard let server = try S3StorageTests.server() else { return }
        let location = server.location("cacheproof")
        let source = try Fixtures.demo(posts: 200)
        let open = { try Self.repository(location) }
        let repository = try open()
        let result = try Backup.run(databasePath: source, repository: repository, options: .init())
        let entry = try #require(repository.catalog.entry(result.id))
        let document = try #require(try SegmentedSnapshot.read(entry, in: repository).segments)
        let list = try #require(document.listPieces.first)
        // Read once through the cache, then damaged in the bucket only.
        #expect(try Verifier.verify(.catalogued(entry, repository: try open())).ok)
        let elsewhere = Self.environmentOfAnotherMachine()
        try S3Storage(location, environment: elsewhere).save(.list(list), Array("not a list".utf8))
        let reader = try open()
        #expect(try PieceStore(storage: reader.storage).readList(list).frames.count > 0, "this machine's copy is still sound")
        let report = try Verifier.verify(.catalogued(try #require(reader.catalog.entry(result.id)), repository: reader))
        #expect(!report.ok && report.problems.contains { $0.contains(String(list.prefix(16))) }, "\(report.problems)")

        // The archive too: this machine keeps the small archive the backup wrote (the next backup reads the
        // previous snapshot's without a request), verify reads the bucket's.
        let archive = try repository.archiveName(of: entry)
        let stored = try S3Storage(location, environment: elsewhere).open(archive)
        var bytes = try stored.read(at: 0, count: Int(stored.size))
        bytes[bytes.count / 2] ^= 0x5A
        try S3Storage(location, environment: elsewhere).save(archive, bytes)
        let again = try open()
        #expect(try SegmentedSnapshot.read(entry, in: again).segments?.listPieces == document.listPieces, "the cached copy is read")
        let damaged = try Verifier.verify(.catalogued(try #require(again.catalog.entry(result.id)), repository: again))
        #expect(!damaged.ok, "verify read this machine's copy of the archive")
        // A copy damaged on this machine is not used: the bucket's is read.
        let cache = try #require(again.storage.cacheDirectory) + "/objects/snapshot/" + archive.name
        var cached = Array(try Data(contentsOf: URL(fileURLWithPath: cache)))
        cached[cached.count - 3] ^= 0x01
        try Data(cached).write(to: URL(fileURLWithPath: cache))
        #expect(throws: (any Error).self) { _ = try SegmentedSnapshot.read(entry, in: try open()) }
    }
}
