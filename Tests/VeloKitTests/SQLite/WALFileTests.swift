import Foundation
import Testing

@testable import VeloFormat

/// WALFile against logs SQLite itself wrote: commits found with the database's size after each, reads that
/// carry on from a position, and frames that must never be taken (torn, uncommitted, another generation's).
@Suite struct WALFileTests {
    /// A WAL database whose connection never checkpoints, with `commits` one-row transactions.
    static func database(commits: Int, name: String = #function) throws -> (Database, String) {
        let path = Fixtures.temporaryDirectory(name).appendingPathComponent("wal.sqlite").path
        let db = try Database(path: path, mode: .create)
        try db.execute("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t (x TEXT)")
        for i in 0..<commits { try db.execute("INSERT INTO t VALUES (?)", [.text(String(repeating: "x", count: 100 * (i + 1)))]) }
        return (db, path)
    }

    @Test func readsEveryCommitWithTheDatabasesSizeAfterIt() throws {
        let (db, path) = try Self.database(commits: 5)
        let wal = WALFile(database: path)
        let header = try #require(try wal.header())
        #expect(header.pageSize == 4096)
        var pages: [UInt32] = []
        let read = try wal.readFrames(after: WALPosition(start: header)) { frame in pages.append(frame.pageNumber) }
        #expect(read.commits.count == 6, "the CREATE TABLE and five inserts")
        #expect(read.commits.last?.pages == UInt32(try db.pragma("page_count")?.int64Value ?? 0))
        #expect(read.position.frames == pages.count && read.uncommittedFrames == 0)

        // Read again from there: nothing; after one more commit, only its frames.
        #expect(try wal.readFrames(after: read.position) { _ in }.commits.isEmpty)
        try db.execute("INSERT INTO t VALUES ('more')")
        let next = try wal.readFrames(after: read.position) { _ in }
        #expect(next.commits.count == 1 && next.commits[0].frame == read.position.frames + 1)
    }

    @Test func aTornFrameEndsTheReadAtTheCommitBeforeIt() throws {
        let (db, path) = try Self.database(commits: 3)
        defer { withExtendedLifetime(db) {} }  // its log stays while it is open
        let wal = WALFile(database: path)
        let start = WALPosition(start: try #require(try wal.header()))
        let whole = try wal.readFrames(after: start) { _ in }
        // Flip a byte in the last frame's page: its checksum no longer holds, so its transaction is not taken.
        let handle = try #require(FileHandle(forUpdatingAtPath: path + "-wal"))
        let offset = UInt64(start.offset(ofFrame: whole.position.frames)) + 24 + 100
        try handle.seek(toOffset: offset)
        let byte = try #require(try handle.read(upToCount: 1))
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data([byte[0] ^ 0xFF]))
        try handle.close()
        let torn = try wal.readFrames(after: start) { _ in }
        #expect(torn.commits.count == whole.commits.count - 1)
        #expect(torn.position.frames < whole.position.frames)
    }

    @Test func framesOfATransactionNotYetCommittedAreNotTaken() throws {
        let (db, path) = try Self.database(commits: 1)
        defer { withExtendedLifetime(db) {} }
        let wal = WALFile(database: path)
        let start = WALPosition(start: try #require(try wal.header()))
        let committed = try wal.readFrames(after: start) { _ in }
        // A second connection spills an open transaction's pages into the log (a tiny cache).
        let writer = try Database(path: path, mode: .readWrite)
        try writer.execute("PRAGMA cache_size=2; BEGIN")
        for _ in 0..<300 { try writer.execute("INSERT INTO t VALUES (?)", [.text(String(repeating: "y", count: 2000))]) }
        let during = try wal.readFrames(after: start) { _ in }
        #expect(during.uncommittedFrames > 0, "the transaction never spilled")
        #expect(during.position == committed.position && during.commits.count == committed.commits.count)
        try writer.execute("COMMIT")
        let after = try wal.readFrames(after: committed.position) { _ in }
        #expect(after.commits.count == 1)
    }

    @Test func aHeaderWithAWrongChecksumIsNoLog() throws {
        let (db, path) = try Self.database(commits: 1)
        defer { withExtendedLifetime(db) {} }
        var bytes = try FileSystem.read(path + "-wal")
        #expect(bytes.withUnsafeBytes { WALHeader($0) } != nil)
        bytes[20] ^= 1  // salt-2
        #expect(bytes.withUnsafeBytes { WALHeader($0) } == nil)
    }
}
