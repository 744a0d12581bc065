import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct BackupTests {
    func repository(_ name: String = #function) throws -> Repository {
        try Repository.open(Fixtures.temporaryDirectory(name).appendingPathComponent("repo").path, create: true)
    }

    /// Every row of every table in the snapshot, as read back from the archive.
    func archivedRows(_ archive: String) throws -> [String: [[RecordValue]]] {
        let reader = try SnapshotReader(path: archive)
        var rows: [String: [[RecordValue]]] = [:]
        try reader.scan { table, line in
            rows[table.name, default: []].append(try RecordDecoder.decode(line))
            return true
        }
        return rows
    }

    /// Every row of a table in the database, in rowid order.
    func databaseRows(_ db: Database, _ table: String) throws -> [[SQLiteValue]] {
        try db.rows("SELECT * FROM \(SQL.quote(table)) ORDER BY rowid")
    }

    @Test(arguments: ["delete", "wal"])
    func awkwardValuesComeBackBitForBit(journalMode: String) throws {
        let path = try Fixtures.demo(posts: 40, journalMode: journalMode, name: "awkward-\(journalMode)")
        let db = try Database(path: path, mode: .readWrite)
        try db.execute("CREATE TABLE awkward (v)")
        let insert = try db.prepare("INSERT INTO awkward VALUES (?)")
        for value in RecordCodecTests.awkward { try insert.run([value]) }
        try insert.run([.text(String(repeating: "x", count: 1 << 20))])
        // A blob in a text column, an integer in a datetime column, a real in a boolean column.
        try db.execute("UPDATE _velo_posts SET title = x'00ff10', created_at = 1700000000, published = 0.5 WHERE rowid = 1")
        let repo = try repository("awkward-\(journalMode)")
        var options = Backup.Options()
        options.partBytes = 64 * 1024  // many parts
        let result = try Backup.run(databasePath: path, repository: repo, options: options)
        #expect(result.notVeloquent == ["awkward"])
        let archived = try archivedRows(result.archive)
        for table in ["awkward", "_velo_posts", "_velo_users", "settings", "collections", "_velo_posts_tags_tags_pivot"] {
            let original = try databaseRows(db, table)
            let back = try #require(archived[table], "\(table) missing")
            #expect(back.count == original.count, "\(table)")
            for (a, b) in zip(original, back) {
                #expect(a.count == b.count)
                for (x, y) in zip(a, b) { #expect(y.sqliteValue.isIdentical(to: x), "\(table): \(x) came back as \(y)") }
            }
        }
        #expect(try ArchiveAudit.run(path: result.archive, expectedSHA256: result.sha256).problems.isEmpty)
    }

    @Test(arguments: ["delete", "wal"])
    func aSnapshotIsOnePointInTimeWhileAWriterKeepsWriting(journalMode: String) throws {
        let path = try Fixtures.demo(posts: 4_000, journalMode: journalMode, name: "writer-\(journalMode)")
        let setup = try Database(path: path, mode: .readWrite)
        try setup.execute("CREATE TABLE ledger_a (n INTEGER PRIMARY KEY, at TEXT); CREATE TABLE ledger_b (n INTEGER PRIMARY KEY, at TEXT)")
        let writer = LedgerWriter(path: path)
        writer.start()
        defer { writer.stop() }
        while writer.committed < 20 { usleep(1_000) }
        let repo = try repository("writer-\(journalMode)")
        var results: [Backup.Result] = []
        for _ in 0..<3 {
            results.append(try Backup.run(databasePath: path, repository: repo, options: .init()))
        }
        writer.stop()
        #expect(writer.error == nil, "\(writer.error.map { "\($0)" } ?? "")")
        for result in results {
            let rows = try archivedRows(result.archive)
            let a = rows["ledger_a"] ?? [], b = rows["ledger_b"] ?? []
            // Both tables are written in one transaction: any consistent snapshot has them equal.
            #expect(a.count == b.count, "ledger_a has \(a.count) rows, ledger_b \(b.count)")
            #expect(a.count >= 20)
            #expect(a.map { $0[0] } == (1...a.count).map { .integer(Int64($0)) })
        }
        #expect(writer.committed > results.map { $0.rows["ledger_a"] ?? 0 }.min()!, "the writer kept writing during the backups")
    }

    /// The connection `checkSource` keeps open (so a backup after it reuses a WAL source's index instead of
    /// rebuilding it from the whole WAL) is idle and read-only: a writer with no busy timeout commits while it
    /// is open, and neither it nor the backup checkpoints the source (its WAL keeps its frames).
    @Test func theKeptCheckConnectionNeverBlocksOrCheckpointsAWalSource() throws {
        let path = try Fixtures.demo(posts: 300, journalMode: "wal")
        let writer = try Database(path: path, mode: .readWrite, busyTimeout: .zero)
        try writer.execute("PRAGMA wal_autocheckpoint=0; CREATE TABLE ledger (n INTEGER PRIMARY KEY)")
        for n in 1...50 { try writer.execute("INSERT INTO ledger (n) VALUES (\(n))") }
        let walBefore = try FileSystem.fileSize(path + "-wal")
        #expect(walBefore > 0)
        let checked = try Backup.checkSource(path)
        try writer.execute("INSERT INTO ledger (n) VALUES (51)")  // no busy timeout: fails if anything holds a lock
        let result = try withExtendedLifetime(checked) {
            try Backup.run(databasePath: path, repository: try repository("kept-check"), options: .init())
        }
        try writer.execute("INSERT INTO ledger (n) VALUES (52)")
        #expect(result.rows["ledger"] == 51)
        #expect(try FileSystem.fileSize(path + "-wal") >= walBefore, "nothing checkpointed the source")
    }

    /// Records what a backup reports.
    final class ProgressRecorder: ProgressObserver {
        var reports: [(done: Int, total: Int?)] = []
        var finished = false
        func report(done: Int, unit: String, detail: String) { reports.append((done, nil)) }
        func report(done: Int, total: Int, unit: String, detail: String) { reports.append((done, total)) }
        func finish() { finished = true }
    }

    @Test(arguments: [false, true])
    func progressCarriesAnEstimatedTotalOfRows(incremental: Bool) throws {
        let name = "progress-total-\(incremental)"
        let path = try Fixtures.demo(posts: 5_000, name: name)
        let db = try Database(path: path, mode: .readWrite)
        try db.execute("DELETE FROM _velo_comments WHERE rowid % 2 = 0")  // deleted rows: an overestimate
        let recorder = ProgressRecorder()
        var options = Backup.Options()
        options.incremental = incremental
        let result = try Backup.run(databasePath: path, repository: try repository(name), options: options, progress: recorder)
        let rows = result.rows.values.reduce(0, +)
        let deleted = Int(try db.scalar("SELECT max(rowid) - min(rowid) + 1 - count(*) FROM _velo_comments")?.int64Value ?? 0)
        #expect(recorder.reports.count > 1)
        #expect(recorder.reports.allSatisfy { $0.total == rows + deleted }, "\(recorder.reports.prefix(3)), \(rows) rows")
        #expect(recorder.reports.last?.done == rows)
        #expect(recorder.finished)
    }

    @Test func theDefaultThreadsFollowTheCores() {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        #expect(Backup.Options().workers == Int32(min(2, max(1, cores))))
    }

    @Test func optionsSelectWhatIsKept() throws {
        let path = try Fixtures.demo(posts: 30)
        let repo = try repository()
        var options = Backup.Options()
        options.collections = ["posts"]
        options.excludeTables = ["auth_tokens"]
        options.tags = ["nightly", "pre-upgrade"]
        let only = try Backup.run(databasePath: path, repository: repo, options: options)
        #expect(only.rows["_velo_posts"] == 30)
        #expect(only.rows["_velo_posts_tags_tags_pivot"] != nil)
        #expect(only.rows["_velo_comments"] == nil)
        #expect(only.rows["auth_tokens"] == nil)
        #expect(only.rows["settings"] == 22)
        #expect(only.excludedTables.contains("_velo_comments") && only.excludedTables.contains("cache"))
        let entry = try #require(try repo.catalog.entries().first)
        #expect(entry.tags == ["nightly", "pre-upgrade"])

        options = Backup.Options()
        options.records = false
        let metadata = try Backup.run(databasePath: path, repository: repo, options: options)
        #expect(Set(metadata.rows.keys) == ["collections", "migrations", "sqlite_sequence"])

        options = Backup.Options()
        options.includeFramework = true
        let everything = try Backup.run(databasePath: path, repository: repo, options: options)
        #expect(everything.rows["cache"] == 6)
        // The schema always carries every table's DDL, so a restore can recreate what was left out.
        let reader = try SnapshotReader(path: metadata.archive)
        var names: [String] = []
        try reader.scan(schema: { line in names.append(String(describing: try RecordDecoder.decode(line)[1].sqliteValue)) }) { _, _ in true
        }
        #expect(names.contains { $0.contains("_velo_comments") })
    }

    @Test func badOptionsAreRefusedBeforeAnythingIsWritten() throws {
        let path = try Fixtures.demo(posts: 3)
        let repo = try repository()
        var options = Backup.Options()
        options.collections = ["postz"]
        #expect(throws: VeloError.self) { try Backup.run(databasePath: path, repository: repo, options: options) }
        options = Backup.Options()
        options.excludeTables = ["collections"]
        #expect(throws: VeloError.self) { try Backup.run(databasePath: path, repository: repo, options: options) }
        options.excludeTables = ["nope"]
        #expect(throws: VeloError.self) { try Backup.run(databasePath: path, repository: repo, options: options) }
        #expect(try repo.catalog.entries().isEmpty)
        let leftovers = FileManager.default.enumerator(atPath: repo.path("snapshots"))?.allObjects as? [String] ?? []
        #expect(leftovers.allSatisfy { !$0.hasSuffix(".zst") && !$0.hasSuffix(".partial") }, "\(leftovers)")
        #expect(repo.lockOwner == nil)
    }

    @Test func aNonVeloquentDatabaseIsRefused() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("plain.sqlite").path
        try Database(path: path, mode: .create).execute("CREATE TABLE t (x)")
        let repo = try repository()
        #expect(throws: ModelError.self) { try Backup.run(databasePath: path, repository: repo, options: .init()) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: repo.path("tmp")).isEmpty)
    }
}

/// Inserts the same number into two tables in one transaction, as fast as it can, on its own connection.
final class LedgerWriter: @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private var _committed = 0
    private var _stop = false
    private(set) var error: Error?
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)

    init(path: String) { self.path = path }

    var committed: Int { lock.withLock { _committed } }

    func start() {
        let thread = Thread { [self] in
            defer { done.signal() }
            do {
                let db = try Database(path: path, mode: .readWrite, busyTimeout: .seconds(30))
                var n = 0
                while !lock.withLock({ _stop }) {
                    n += 1
                    try db.transaction(.immediate) {
                        try db.execute("INSERT INTO ledger_a VALUES (?, datetime('now'))", [.integer(Int64(n))])
                        try db.execute("INSERT INTO ledger_b VALUES (?, datetime('now'))", [.integer(Int64(n))])
                    }
                    lock.withLock { _committed = n }
                    usleep(300)  // a busy application, not a tight loop that starves every reader
                }
            } catch {
                self.error = error
            }
        }
        self.thread = thread
        thread.start()
    }

    func stop() {
        let running = lock.withLock { () -> Bool in
            defer { _stop = true }
            return !_stop
        }
        if running { done.wait() }
    }
}
