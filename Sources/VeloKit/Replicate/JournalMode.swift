import Foundation
import VeloFormat

/// A source's journal mode, as continuous capture needs it: WAL, because the log is where another process can
/// see each committed transaction's pages. A rollback-journal source is refused, or switched once on request
/// (Laravel and PHP's PDO work unchanged on a WAL database; the mode is stored in the file, so it stays).
enum JournalMode {
    /// Makes sure `path` is in WAL mode; true when this call switched it.
    /// - Throws: `.input` naming the database and its mode when it is not WAL and `switchIfNeeded` is false.
    static func ensureWAL(_ path: String, switchIfNeeded: Bool) throws -> Bool {
        let db = try Database(path: path, mode: .readWrite)
        let mode = try db.pragma("journal_mode")?.stringValue?.lowercased() ?? "unknown"
        if mode == "wal" { return false }
        guard switchIfNeeded else {
            throw VeloError(
                "\(path): journal mode \(mode), and continuous capture reads the write-ahead log", remedy: .switchToWAL)
        }
        let switched = try db.scalar("PRAGMA journal_mode=WAL")?.stringValue?.lowercased()
        guard switched == "wal" else {
            throw VeloError("\(path): could not be switched to WAL (journal mode is still \(switched ?? mode))", kind: .database)
        }
        Diagnostics.info("\(path): switched from journal mode \(mode) to WAL, once; it stays WAL")
        return true
    }
}
