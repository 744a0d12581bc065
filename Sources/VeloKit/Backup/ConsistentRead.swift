import Foundation

/// A read-only view of a live database frozen at one point in time, while Veloquent keeps writing.
/// In WAL mode it is one read transaction on the database itself (writers are never blocked). In rollback-journal
/// mode a reader would block writers for the whole backup, so the database is first copied with SQLite's online
/// backup API (which holds the lock only while it copies) and the copy is read instead.
package final class ConsistentRead {
    /// The connection to read from, inside its read transaction.
    package let database: Database
    /// The source's journal mode (`wal`, `delete`, ...).
    package let journalMode: String
    /// The copy that is read in rollback-journal mode; deleted on `close`.
    package let copyPath: String?
    private var closed = false

    /// Opens `path` and freezes it. `copyDirectory` holds the temporary copy in rollback-journal mode.
    package init(path: String, copyDirectory: String, busyTimeout: Duration, progress: (any ProgressObserver)? = nil) throws {
        let source = try Database(path: path, mode: .readOnly, busyTimeout: busyTimeout)
        let mode = (try source.pragma("journal_mode")?.stringValue ?? "delete").lowercased()
        journalMode = mode
        if mode == "wal" {
            database = source
            copyPath = nil
            try source.execute("BEGIN")
            // The read transaction (and its snapshot) starts with the first read.
            _ = try source.scalar("SELECT count(*) FROM sqlite_schema")
            return
        }
        let copy = (copyDirectory as NSString).appendingPathComponent("copy-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sqlite")
        do {
            let target = try Database(path: copy, mode: .create)
            chmod(copy, 0o600)
            try target.execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")
            var backup = OnlineBackup(from: source, to: target)
            backup.pagesPerStep = 128
            try backup.run { done, total in progress?.update(done, unit: "pages", detail: "copying") }
            progress?.finish()
        } catch {
            unlink(copy)
            throw VeloError("\(path): cannot make the consistent copy that a rollback-journal database needs: \(error)")
        }
        copyPath = copy
        // Errors name the user's database, never velo's temporary copy of it.
        database = try Database(path: copy, mode: .readOnly, busyTimeout: busyTimeout, reportedAs: path)
        try database.execute("BEGIN")
    }

    /// Ends the read transaction and removes the copy.
    package func close() {
        guard !closed else { return }
        closed = true
        try? database.execute("COMMIT")
        if let copyPath {
            for suffix in ["", "-journal", "-wal", "-shm"] { unlink(copyPath + suffix) }
        }
    }

    deinit { close() }
}
