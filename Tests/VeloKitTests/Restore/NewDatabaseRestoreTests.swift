import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct NewDatabaseRestoreTests {
    static let sqlite3: String? = ["/usr/bin/sqlite3", "/usr/local/bin/sqlite3"].first { FileManager.default.isExecutableFile(atPath: $0) }

    func dump(_ path: String) throws -> String { try Fixtures.dump(path) }

    /// A demo tenant plus everything awkward SQLite allows.
    func awkwardDatabase(journalMode: String, _ name: String = #function) throws -> String {
        let path = try Fixtures.demo(posts: 300, journalMode: journalMode, name: name)
        let db = try Database(path: path, mode: .readWrite)
        try db.execute(
            #"""
            CREATE TABLE awkward (v);
            CREATE TABLE "odd ""name""" ("a b" INTEGER PRIMARY KEY, "c" TEXT) ;
            CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;
            CREATE TABLE counters (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER);
            INSERT INTO counters (n) VALUES (1), (2), (3); DELETE FROM counters WHERE id = 3;
            CREATE INDEX kv_v ON kv (v);
            CREATE VIEW published_posts AS SELECT id, title FROM _velo_posts WHERE published = 1;
            CREATE TRIGGER counters_touch AFTER INSERT ON counters BEGIN UPDATE counters SET n = n + 1 WHERE id = NEW.id; END;
            INSERT INTO kv VALUES ('b', x'00'), ('a', NULL);
            INSERT INTO "odd ""name""" VALUES (7, 'seven'), (2, 'two');
            UPDATE _velo_posts SET title = x'00ff10', created_at = 1700000000, published = 0.5 WHERE rowid = 1;
            DELETE FROM _velo_posts WHERE rowid IN (5, 6, 7);
            """#)
        let insert = try db.prepare("INSERT INTO awkward VALUES (?)")
        for value in RecordCodecTests.awkward { try insert.run([value]) }
        try insert.run([.text(String(repeating: "é", count: 600_000))])
        return path
    }

    @Test(
        .enabled(if: NewDatabaseRestoreTests.sqlite3 != nil, "sqlite3 is not installed: the .dump comparison is skipped"),
        arguments: ["delete", "wal"])
    func aRestoredDatabaseDumpsExactlyLikeTheSource(journalMode: String) throws {
        let source = try awkwardDatabase(journalMode: journalMode, "dump-\(journalMode)")
        let dir = Fixtures.temporaryDirectory("restore-\(journalMode)")
        let repo = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        var options = Backup.Options()
        options.includeFramework = true
        options.partBytes = 256 * 1024
        let backup = try Backup.run(databasePath: source, repository: repo, options: options)
        let entry = try #require(try repo.catalog.entries().first { $0.id == backup.id })
        let target = dir.appendingPathComponent("restored.sqlite").path
        let result = try NewDatabaseRestore.run(
            .catalogued(entry, repository: repo), manifest: try repo.catalog.detail(entry.id).manifest, archiveSHA256: entry.archiveSHA256,
            to: target)
        #expect(result.rows["_velo_posts"] == 297)
        #expect(try dump(target) == dump(source))
        let restored = try Database(path: target)
        #expect(try restored.scalar("PRAGMA integrity_check") == .text("ok"))
        #expect(try restored.pragma("journal_mode") == .text(journalMode))
        #expect(try TenantDatabase.load(restored).collections.count == 7)
        #expect(
            try restored.scalar("SELECT seq FROM sqlite_sequence WHERE name = 'counters'") == .integer(3),
            "the counter survives deleted rows")
    }

    @Test func aDamagedArchiveLeavesNoFileBehind() throws {
        let source = try Fixtures.demo(posts: 200)
        let dir = Fixtures.temporaryDirectory()
        let repo = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        let backup = try Backup.run(databasePath: source, repository: repo, options: .fullArchive)
        let entry = try #require(try repo.catalog.entries().first)
        // Rewrite one row of a part: the archive stays a valid tar.zst, only the checksums can tell.
        var entries = try CraftedArchive.entries(of: backup.archive)
        let index = entries.firstIndex { $0.path.hasPrefix("records/_velo_posts/") }!
        entries[index].bytes = Array(
            String(decoding: entries[index].bytes, as: UTF8.self).replacingOccurrences(of: "\"2025-", with: "\"2024-").utf8)
        try FileManager.default.removeItem(atPath: backup.archive)
        try CraftedArchive(entries: entries).write(to: backup.archive)
        let target = dir.appendingPathComponent("restored.sqlite").path
        #expect(throws: ArchiveDamage.self) {
            try NewDatabaseRestore.run(
                .catalogued(entry, repository: repo), manifest: try repo.catalog.detail(entry.id).manifest,
                archiveSHA256: entry.archiveSHA256, to: target)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["repo"])
        // An existing target is refused.
        FileManager.default.createFile(atPath: target, contents: Data())
        #expect(throws: VeloError.self) {
            try NewDatabaseRestore.run(.catalogued(entry, repository: repo), manifest: nil, archiveSHA256: nil, to: target)
        }
    }

    @Test func rowBinderReadsEveryEncodingBack() throws {
        let db = try Database(path: ":memory:", mode: .create)
        try db.execute("CREATE TABLE t (" + RecordCodecTests.awkward.indices.map { "c\($0)" }.joined(separator: ", ") + ")")
        let select = try db.prepare("SELECT " + RecordCodecTests.awkward.indices.map { "?\($0 + 1)" }.joined(separator: ", "))
        try select.bind(RecordCodecTests.awkward)
        #expect(try select.step())
        let out = ByteBuffer()
        RecordEncoder(columnCount: RecordCodecTests.awkward.count).appendRow(of: select, to: out)
        let line = Array(out.bytes.dropLast())
        let insert = try db.prepare(
            "INSERT INTO t VALUES (" + RecordCodecTests.awkward.indices.map { _ in "?" }.joined(separator: ", ") + ")")
        try line.withUnsafeBytes { try RowBinder(columnCount: RecordCodecTests.awkward.count).bind($0, to: insert) }
        try insert.step()
        let back = try #require(try db.rows("SELECT * FROM t").first)
        for (a, b) in zip(RecordCodecTests.awkward, back) { #expect(a.isIdentical(to: b), "\(a) came back as \(b)") }
        for bad in ["[1,2", "[1,2,3]", "{}", "[\"x\\q\"]", "[1] ", "[01x]"] {
            #expect(throws: (any Error).self, "\(bad)") {
                try Array(bad.utf8).withUnsafeBytes { try RowBinder(columnCount: 2).bind($0, to: insert) }
            }
        }
    }
}
