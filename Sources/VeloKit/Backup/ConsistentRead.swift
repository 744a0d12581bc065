import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// A read-only view of a live database frozen at one point in time, while Veloquent keeps writing: one read
/// transaction on the database itself, from the first read to `close`.
///
/// In WAL mode writers are never blocked. In rollback-journal mode the transaction's shared lock makes writers
/// wait (up to their busy timeout) until `close`, exactly as `sqlite3 .dump` does for its whole run; velo reads
/// and encodes faster than `.dump`, and `close` comes right after the last row is read (before the archive is
/// flushed and synced), so writers wait less than for a dump. (Earlier versions first copied the database with
/// SQLite's online backup API: the lock was held only while copying, but writing the copy cost more than the
/// whole read, so writers waited about as long and the backup took up to 1.75x longer.)
package final class ConsistentRead {
    /// The connection to read from, inside its read transaction.
    package let database: Database
    /// The source's journal mode (`wal`, `delete`, ...).
    package let journalMode: String
    /// The file's change state (`SourceState`) when it was the same just before and just after the read
    /// transaction began, so that it is exactly the state read; nil otherwise.
    package private(set) var sourceState: String?
    /// When the read transaction started.
    private let began: ContinuousClock.Instant
    private var closed = false

    /// Opens `path` read-only and starts the read transaction.
    package init(path: String, busyTimeout: Duration) throws {
        let source = try Database(path: path, mode: .readOnly, busyTimeout: busyTimeout)
        journalMode = (try source.pragma("journal_mode")?.stringValue ?? "delete").lowercased()
        database = source
        let before = SourceState.read(source)
        try source.execute("BEGIN")
        // The read transaction (its snapshot in WAL mode, its shared lock otherwise) starts with the first read.
        _ = try source.scalar("SELECT count(*) FROM sqlite_schema")
        let after = SourceState.read(source)
        sourceState = before != nil && before == after ? before : nil
        began = .now
    }

    /// Whether the read transaction makes writers wait (any journal mode but WAL).
    package var blocksWriters: Bool { journalMode != "wal" }

    /// Ends the read transaction (and, in rollback-journal mode, releases the lock writers wait for). Returns
    /// how long it was held.
    @discardableResult
    package func close() -> Duration {
        let held = ContinuousClock.now - began
        guard !closed else { return held }
        closed = true
        try? database.execute("COMMIT")
        return held
    }

    /// Ends the read transaction once every row is read, and says under `--verbose` how long writers of a
    /// rollback-journal source (`name`) could have waited for it.
    package func releaseAfterRows(of name: String) {
        let held = close()
        if blocksWriters {
            let seconds = held.inSeconds
            Diagnostics.info(
                "\(name): read lock released after \(String(format: "%.2f", seconds)) s (\(journalMode) journal: writers waited at most that long)"
            )
        }
    }

    deinit { close() }
}
