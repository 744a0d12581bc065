import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct DatabaseTests {
    func scratch(_ name: String = #function) throws -> Database {
        try Database(path: Fixtures.temporaryDirectory(name).appendingPathComponent("t.sqlite").path, mode: .create)
    }

    @Test func bindsAndReadsAllFiveStorageClassesExactly() throws {
        let db = try scratch()
        try db.execute("CREATE TABLE t (v)")
        let values: [SQLiteValue] = [
            .null, .integer(.min), .integer(.max), .integer(0), .real(-0.0), .real(.leastNonzeroMagnitude), .real(.greatestFiniteMagnitude),
            .text(""), .text("a\u{0}b"), .text("emoji 🦤 and \u{1}\u{1F} controls"), .blob([]), .blob([0, 255, 1, 0]),
        ]
        let insert = try db.prepare("INSERT INTO t (v) VALUES (?)")
        for v in values { try insert.run([v]) }
        let read = try db.rows("SELECT v FROM t ORDER BY rowid").map { $0[0] }
        #expect(read.count == values.count)
        for (a, b) in zip(values, read) {
            #expect(a.isIdentical(to: b), "\(a) came back as \(b)")
        }
        #expect(try db.scalar("SELECT typeof(v) FROM t WHERE rowid = 5") == .text("real"))
        #expect(try db.scalar("SELECT typeof(v) FROM t WHERE rowid = 8") == .text("text"))
        #expect(try db.scalar("SELECT length(CAST(v AS BLOB)) FROM t WHERE rowid = 9") == .integer(3))
    }

    @Test func rawTextBytesPassThroughUnchanged() throws {
        let db = try scratch()
        try db.execute("CREATE TABLE t (v TEXT)")
        let invalidUTF8: [UInt8] = [0x61, 0xFF, 0x00, 0xC3]
        let insert = try db.prepare("INSERT INTO t VALUES (?)")
        try invalidUTF8.withUnsafeBytes { try insert.bindText($0, at: 1) }
        try insert.step()
        let select = try db.prepare("SELECT v FROM t")
        #expect(try select.step())
        #expect(select.storageClass(0) == .text)
        #expect(select.withTextBytes(0) { Array($0) } == invalidUTF8)
    }

    @Test func transactionsCommitAndRollBack() throws {
        let db = try scratch()
        try db.execute("CREATE TABLE t (v INTEGER)")
        try db.transaction(.immediate) { try db.execute("INSERT INTO t VALUES (1)") }
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try db.transaction {
                try db.execute("INSERT INTO t VALUES (2)"); throw Boom()
            }
        }
        #expect(try db.scalar("SELECT count(*) FROM t") == .integer(1))
        #expect(!db.isInTransaction)
    }

    @Test func savepointsNestAndRollBackAlone() throws {
        let db = try scratch()
        try db.execute("CREATE TABLE t (v INTEGER)")
        struct Boom: Error {}
        try db.transaction {
            try db.execute("INSERT INTO t VALUES (1)")
            try? db.savepoint("inner") {
                try db.execute("INSERT INTO t VALUES (2)"); throw Boom()
            }
            try db.savepoint("kept") { try db.execute("INSERT INTO t VALUES (3)") }
        }
        #expect(try db.rows("SELECT v FROM t ORDER BY v").map { $0[0] } == [.integer(1), .integer(3)])
    }

    @Test func errorsCarryMessageStatementAndPath() throws {
        let db = try scratch()
        do {
            _ = try db.prepare("SELECT * FROM missing_table")
            Issue.record("expected an error")
        } catch let error as SQLiteError {
            #expect(error.message.contains("no such table: missing_table"))
            #expect(error.sql == "SELECT * FROM missing_table")
            #expect(error.description.contains(db.path))
        }
    }

    @Test func readOnlyConnectionsCannotWrite() throws {
        let db = try scratch()
        try db.execute("CREATE TABLE t (v)")
        let reader = try Database(path: db.path, mode: .readOnly)
        #expect(throws: SQLiteError.self) { try reader.execute("INSERT INTO t VALUES (1)") }
    }

    @Test func busyTimeoutEndsInAClearBusyError() throws {
        let db = try scratch()
        try db.execute("CREATE TABLE t (v); INSERT INTO t VALUES (1)")
        try db.execute("BEGIN EXCLUSIVE")
        defer { try? db.execute("ROLLBACK") }
        let other = try Database(path: db.path, mode: .readOnly, busyTimeout: .milliseconds(100))
        let started = ContinuousClock.now
        do {
            _ = try other.scalar("SELECT count(*) FROM t")
            Issue.record("expected SQLITE_BUSY")
        } catch let error as SQLiteError {
            #expect(error.isBusy)
            #expect(error.description.contains("lock"))
        }
        #expect(ContinuousClock.now - started >= .milliseconds(90))
    }

    @Test func quotesIdentifiersAndLiterals() {
        #expect(SQL.quote("posts") == "\"posts\"")
        #expect(SQL.quote("we\"ird") == "\"we\"\"ird\"")
        #expect(SQL.literal("it's") == "'it''s'")
        #expect(SQL.quoteList(["a", "b"]) == "\"a\", \"b\"")
    }

    @Test func pathsThatAreNotDatabasesAreNamedPlainly() throws {
        let dir = Fixtures.temporaryDirectory()
        let missing = dir.appendingPathComponent("nope.sqlite").path
        #expect(throws: DatabaseFile.Problem.missing(missing)) { try Database(path: missing) }
        #expect(throws: DatabaseFile.Problem.directory(dir.path)) { try Database(path: dir.path) }
        let text = dir.appendingPathComponent("notes.txt").path
        try "hello, this is not a database at all".write(toFile: text, atomically: true, encoding: .utf8)
        #expect(throws: DatabaseFile.Problem.notSQLite(text)) { try Database(path: text) }
    }

    @Test func schemaReadsColumnsIndexesAndKeys() throws {
        let db = try scratch()
        try db.execute(
            #"create table "p" ("id" varchar not null, "n" tinyint(1) not null default '0', primary key ("id")); create index "p_n_index" on "p" ("n")"#
        )
        let schema = try SQLiteSchema.read(from: db)
        let table = try #require(schema.table("p"))
        #expect(table.primaryKey == ["id"])
        #expect(table.column("n")?.declaredType == "tinyint(1)")
        #expect(table.column("n")?.defaultSQL == "'0'")
        #expect(table.column("n")?.notNull == true)
        #expect(table.indexes.map(\.name).contains("p_n_index"))
        #expect(table.indexes.first { $0.name == "p_n_index" }?.columns == ["n"])
    }
}
