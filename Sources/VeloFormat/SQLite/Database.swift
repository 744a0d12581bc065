import CSQLite
import Foundation

/// One connection to an SQLite database file. The handle has exactly one owner and is closed on deinit.
package final class Database {
    /// How a database file is opened.
    package enum OpenMode: Sendable {
        /// Never writes; the file must exist.
        case readOnly
        /// Reads and writes; the file must exist.
        case readWrite
        /// Reads and writes; the file is created when missing.
        case create
    }

    package let handle: OpaquePointer
    /// The path the connection was opened with, or the name it reports itself by (`reportedAs`).
    package let path: String
    package let mode: OpenMode

    /// Opens `path`. A missing file, a directory or a file that is not SQLite is reported by `DatabaseFile.check`
    /// before SQLite sees it, so the error names the problem plainly.
    /// - Parameter busyTimeout: how long to wait for another connection's lock before failing with SQLITE_BUSY.
    /// - Parameter reportedAs: the path errors name instead of `path` (a temporary copy reports its original).
    package init(path: String, mode: OpenMode = .readOnly, busyTimeout: Duration = .seconds(5), reportedAs: String? = nil) throws {
        _ = Database.configured
        if mode != .create || FileManager.default.fileExists(atPath: path) {
            // Checked only while this process has no connection to the file: closing the descriptor the check
            // reads through would drop every POSIX lock the process holds on it, SQLite's included
            // (sqlite.org/howtocorrupt.html, 2.2), and another process could then checkpoint or write under it.
            if !Database.openFiles.contains(OpenFiles.ID(path)) { try DatabaseFile.check(path) }
        }
        var flags: Int32 = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
        switch mode {
        case .readOnly: flags |= SQLITE_OPEN_READONLY
        case .readWrite: flags |= SQLITE_OPEN_READWRITE
        case .create: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        }
        var db: OpaquePointer?
        // A plain path, never interpreted as a URI even when it starts with "file:".
        let rc = sqlite3_open_v2(path, &db, flags & ~SQLITE_OPEN_URI, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, message: message, path: path)
        }
        handle = db
        self.path = reportedAs ?? path
        self.mode = mode
        fileID = OpenFiles.ID(path)
        Database.openFiles.add(fileID)
        sqlite3_extended_result_codes(db, 1)
        let ms = busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
        sqlite3_busy_timeout(db, Int32(clamping: ms))
    }

    /// The file's device and inode, while this connection is open.
    private let fileID: OpenFiles.ID?

    deinit {
        sqlite3_close_v2(handle)
        Database.openFiles.remove(fileID)
    }

    /// The database files this process has connections to.
    private static let openFiles = OpenFiles()

    /// Process-wide SQLite settings, applied once before the first connection.
    private static let configured: Void = {
        _ = velo_sqlite3_configure()
    }()

    // MARK: Statements

    /// Prepares one statement.
    package func prepare(_ sql: String) throws -> Statement {
        try Statement(database: self, sql: sql)
    }

    /// Runs one or more statements that return no rows.
    package func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw SQLiteError(code: rc, extendedCode: sqlite3_extended_errcode(handle), message: text, path: path, sql: sql)
        }
    }

    /// Runs exactly one statement that must start with CREATE: for DDL taken from an archive, which must never
    /// smuggle in a second statement (`CREATE TABLE t(x); DELETE FROM superusers`).
    package func executeCreate(_ sql: String) throws {
        let trimmed = sql.trimmingCharacters(in: .whitespacesAndNewlines)
        if let problem = SchemaStatement.problem(trimmed, type: nil) {
            throw SQLiteError(code: SQLITE_ERROR, message: "refusing schema SQL that \(problem)", path: path, sql: sql)
        }
        var stmt: OpaquePointer?
        var tail: UnsafePointer<CChar>?
        let rc = trimmed.withCString { sqlite3_prepare_v2(handle, $0, -1, &stmt, &tail) }
        guard rc == SQLITE_OK, let stmt else { throw error(code: rc, sql: sql) }
        defer { sqlite3_finalize(stmt) }
        if let tail,
            !String(cString: tail).trimmingCharacters(in: CharacterSet.whitespacesAndNewlines.union(CharacterSet(charactersIn: ";")))
                .isEmpty
        {
            throw SQLiteError(code: SQLITE_ERROR, message: "refusing schema SQL that holds more than one statement", path: path, sql: sql)
        }
        let step = sqlite3_step(stmt)
        guard step == SQLITE_DONE || step == SQLITE_ROW else { throw error(code: step, sql: sql) }
    }

    /// Runs one statement with bound values.
    package func execute(_ sql: String, _ values: [SQLiteValue]) throws {
        try prepare(sql).run(values)
    }

    /// All rows of a query, each as its values. For small results only (metadata, pragmas).
    package func rows(_ sql: String, _ values: [SQLiteValue] = []) throws -> [[SQLiteValue]] {
        var result: [[SQLiteValue]] = []
        try prepare(sql).forEachRow(values) { result.append($0.row()) }
        return result
    }

    /// The first column of the first row, or nil when there is no row.
    package func scalar(_ sql: String, _ values: [SQLiteValue] = []) throws -> SQLiteValue? {
        let stmt = try prepare(sql)
        try stmt.bind(values)
        return try stmt.step() ? stmt.value(0) : nil
    }

    /// Reads a pragma's single value, e.g. `pragma("journal_mode")`.
    package func pragma(_ name: String) throws -> SQLiteValue? {
        try scalar("PRAGMA \(name)")
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    package var changes: Int { Int(sqlite3_changes64(handle)) }
    /// The rowid of the last inserted row.
    package var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    /// True while a transaction is open on this connection.
    package var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// The SQLite library version, e.g. "3.40.1".
    package static var libraryVersion: String { String(cString: sqlite3_libversion()) }

    // MARK: Transactions

    /// The three kinds of SQLite transaction.
    package enum TransactionKind: String, Sendable {
        /// Takes a read lock on the first read and a write lock on the first write.
        case deferred = "DEFERRED"
        /// Takes the write lock at once (waits up to the busy timeout).
        case immediate = "IMMEDIATE"
        /// Takes an exclusive lock at once.
        case exclusive = "EXCLUSIVE"
    }

    /// Runs `body` inside a transaction: committed when it returns, rolled back when it throws.
    package func transaction<T>(_ kind: TransactionKind = .deferred, _ body: () throws -> T) throws -> T {
        try execute("BEGIN \(kind.rawValue)")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if isInTransaction { try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Runs `body` inside a savepoint: released when it returns, rolled back to (and released) when it throws.
    /// Savepoints nest inside transactions and other savepoints.
    package func savepoint<T>(_ name: String = "velo", _ body: () throws -> T) throws -> T {
        let quoted = SQL.quote(name)
        try execute("SAVEPOINT \(quoted)")
        do {
            let result = try body()
            try execute("RELEASE \(quoted)")
            return result
        } catch {
            try? execute("ROLLBACK TO \(quoted)")
            try? execute("RELEASE \(quoted)")
            throw error
        }
    }

    // MARK: Errors

    func error(code: Int32, sql: String? = nil) -> SQLiteError {
        SQLiteError(
            code: code,
            extendedCode: sqlite3_extended_errcode(handle),
            message: String(cString: sqlite3_errmsg(handle)),
            path: path,
            sql: sql
        )
    }
}

/// Counts this process's connections by database file (device and inode, read with stat, which opens nothing).
final class OpenFiles: @unchecked Sendable {
    struct ID: Hashable {
        var device: UInt64
        var inode: UInt64

        /// The file's identity, nil when it does not exist.
        init?(_ path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    private let lock = NSLock()
    private var counts: [ID: Int] = [:]

    func contains(_ id: ID?) -> Bool {
        guard let id else { return false }
        lock.lock()
        defer { lock.unlock() }
        return counts[id, default: 0] > 0
    }

    func add(_ id: ID?) {
        guard let id else { return }
        lock.lock()
        counts[id, default: 0] += 1
        lock.unlock()
    }

    func remove(_ id: ID?) {
        guard let id else { return }
        lock.lock()
        counts[id, default: 0] -= 1
        if counts[id] ?? 0 <= 0 { counts[id] = nil }
        lock.unlock()
    }
}
