import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct ConsistentReadTests {
    /// Tries one write with no busy timeout: true when it committed, false when the database was locked.
    func writeCommits(_ path: String, _ n: Int) throws -> Bool {
        let writer = try Database(path: path, mode: .readWrite, busyTimeout: .zero)
        do {
            try writer.execute("INSERT INTO ledger VALUES (?)", [.integer(Int64(n))])
            return true
        } catch let error as SQLiteError where error.code == 5 {  // SQLITE_BUSY
            return false
        }
    }

    @Test(arguments: ["delete", "wal"])
    func oneReadTransactionFromFirstReadToClose(journalMode: String) throws {
        let path = try Fixtures.demo(posts: 30, journalMode: journalMode, name: "consistent-\(journalMode)")
        try Database(path: path, mode: .readWrite).execute("CREATE TABLE ledger (n INTEGER PRIMARY KEY); INSERT INTO ledger VALUES (1)")
        let read = try ConsistentRead(path: path, busyTimeout: .seconds(1))
        #expect(read.journalMode == journalMode)
        #expect(read.blocksWriters == (journalMode != "wal"))
        // WAL: writers go on and the reader keeps its point in time. Rollback journal: writers wait, as they
        // would for `sqlite3 .dump`, and nothing is copied anywhere.
        #expect(try writeCommits(path, 2) == (journalMode == "wal"))
        #expect(try read.database.scalar("SELECT count(*) FROM ledger") == .integer(1))
        let held = read.close()
        #expect(held > .zero)
        #expect(try writeCommits(path, 3), "the lock is released on close")
    }
}
