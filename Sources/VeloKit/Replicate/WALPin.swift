import CSQLite
import Foundation
import VeloFormat

/// A read transaction velo keeps open on a source between two reads of its log, so that what it has not read
/// yet cannot be lost: while a reader uses the log, no checkpoint copies frames past that reader's snapshot into
/// the database and no writer starts the log over. It moves forward by opening the next read transaction before
/// closing the last, so there is never a moment without one (docs/FORMAT.md, "Continuous capture", says why
/// that keeps every generation of the log whole until velo has read it).
///
/// Two connections take turns. Neither writes, checkpoints on its own, or checkpoints when it closes.
final class WALPin {
    private let connections: [Database]
    private var holder: Int?

    init(path: String) throws {
        connections = try (0..<2).map { _ in try WALPin.connect(path) }
    }

    /// A connection to `path` that never checkpoints unless asked.
    static func connect(_ path: String) throws -> Database {
        let db = try Database(path: path, mode: .readWrite, busyTimeout: .seconds(5))
        _ = velo_sqlite3_no_checkpoint_on_close(db.handle)
        try db.execute("PRAGMA wal_autocheckpoint=0")
        return db
    }

    /// Opens a read transaction on the spare connection, then ends the one held.
    func advance() throws {
        let next = holder.map { 1 - $0 } ?? 0
        let db = connections[next]
        try db.execute("BEGIN DEFERRED")
        do {
            _ = try db.scalar("SELECT count(*) FROM sqlite_master")
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
        if let holder { try? connections[holder].execute("COMMIT") }
        holder = next
    }

    /// Ends the read transaction held, if any.
    func release() {
        if let holder { try? connections[holder].execute("COMMIT") }
        holder = nil
    }

    /// A connection not holding the pin (for a checkpoint, which must run outside a transaction).
    var spare: Database { connections[holder.map { 1 - $0 } ?? 0] }

    deinit { release() }

    /// The size of `db`'s file, through SQLite's own descriptor of it. A second descriptor of the file, once
    /// closed, would drop every POSIX lock this process holds on it: SQLite's shared lock among them, which is
    /// what keeps another process that closes its connection from checkpointing and deleting the log.
    static func fileSize(_ db: Database) throws -> Int64 {
        var size: sqlite3_int64 = 0
        let rc = velo_sqlite3_database_file_size(db.handle, &size)
        guard rc == SQLITE_OK else { throw SQLiteError(code: rc, message: "cannot read the file's size", path: db.path) }
        return Int64(size)
    }

    /// Reads the first `bytes` bytes of `db`'s file through SQLite's own descriptor, handing each chunk (1 MiB at
    /// most) and its offset to `body`; returns how many bytes there were (fewer when the file is shorter).
    static func readFile(_ db: Database, bytes: Int64, _ body: (UnsafeRawBufferPointer, Int64) throws -> Void) throws -> Int64 {
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while offset < bytes {
            let want = Int(min(Int64(chunk.count), bytes - offset))
            let got = try chunk.withUnsafeMutableBytes {
                try read(db, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]), at: offset)
            }
            guard got > 0 else { break }
            try chunk.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<got]), offset) }
            offset += Int64(got)
        }
        return offset
    }

    /// Reads the database file at `offset` into `buffer` through SQLite's own descriptor; returns how many bytes
    /// (fewer only at the end of the file).
    static func read(_ db: Database, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        let rc = velo_sqlite3_read_database_file(db.handle, buffer.baseAddress, Int32(buffer.count), sqlite3_int64(offset))
        if rc == SQLITE_OK { return buffer.count }
        guard rc == SQLITE_IOERR | (2 << 8) else { throw SQLiteError(code: rc, message: "cannot read the file", path: db.path) }
        // SQLITE_IOERR | (2 << 8) is SQLITE_IOERR_SHORT_READ (a macro Swift does not import). A short read zero-fills the rest and says nothing of how much was there: only the file's size tells.
        return Int(max(0, min(Int64(buffer.count), try fileSize(db) - offset)))
    }
}
