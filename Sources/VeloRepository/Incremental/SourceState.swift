import CSQLite
import Foundation
import VeloFormat
import VeloStorage

/// What tells that a SQLite file has not changed since a snapshot, without reading a row: the database
/// header's bytes 24–99 (file change counter, size in pages, schema cookie, version-valid-for …) and size, and in
/// WAL mode the WAL's 32-byte header (salts, checkpoint sequence) and size. A commit changes at least one of
/// them (in WAL mode a commit grows the WAL or restarts it with new salts); a checkpoint may change them
/// without a change of data, which only costs a scan.
///
/// In WAL mode a checkpoint writes committed pages into the file without touching its header, so the file's
/// inode, size, modification and change times (and the WAL's) are part of the state too, read with `stat`. Like
/// git's "racily clean" rule, a state is not recorded while a file was modified in the last 2 seconds (a write
/// in the same clock tick would leave its times unchanged): the next backup then scans.
///
/// Headers are read through the connection's own file handles (`SQLITE_FCNTL_FILE_POINTER`, `…JOURNAL_POINTER`), never by
/// opening the file: closing another descriptor of a database file drops every POSIX lock the process holds on
/// it, including the read transaction's.
package enum SourceState {
    /// The state of `database`'s main file now, as hex, or nil when it cannot be read or is too recent to trust.
    package static func read(_ database: Database) -> String? {
        var out: [UInt8] = []
        let now = Date().timeIntervalSince1970
        for file in [database.path, database.path + "-wal"] {
            var info = stat()
            // A missing WAL and an empty one (a reader, velo included, may create it) hold the same: nothing.
            guard stat(file, &info) == 0, info.st_size > 0 || file == database.path else { out.append(0); continue }
            let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
            if now - modified < racyWindow { return nil }
            for v in [
                UInt64(info.st_dev), UInt64(info.st_ino), UInt64(info.st_size), UInt64(info.st_mtim.tv_sec), UInt64(info.st_mtim.tv_nsec),
                UInt64(info.st_ctim.tv_sec), UInt64(info.st_ctim.tv_nsec),
            ] {
                for s in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
            }
        }
        guard append(database, SQLITE_FCNTL_FILE_POINTER, header: 100, from: 24, to: &out) else { return nil }
        if !append(database, SQLITE_FCNTL_JOURNAL_POINTER, header: 32, from: 0, to: &out) { out.append(0) }
        return SHA256Digest.hex(out)
    }

    /// Seconds within which a file's modification is too recent to trust its times.
    static let racyWindow: Double = 2

    private static func append(_ database: Database, _ op: Int32, header: Int, from: Int, to out: inout [UInt8]) -> Bool {
        var file: UnsafeMutablePointer<sqlite3_file>?
        guard sqlite3_file_control(database.handle, "main", op, &file) == SQLITE_OK, let file, let methods = file.pointee.pMethods,
            let xRead = methods.pointee.xRead, let xFileSize = methods.pointee.xFileSize
        else { return false }
        var size: sqlite3_int64 = 0
        guard xFileSize(file, &size) == SQLITE_OK else { return false }
        if size == 0 { return false }  // an empty WAL is no WAL
        var bytes = [UInt8](repeating: 0, count: header)
        let rc = bytes.withUnsafeMutableBytes { xRead(file, $0.baseAddress, Int32(header), 0) }
        guard rc == SQLITE_OK || rc == 522 /* SQLITE_IOERR_SHORT_READ: the rest reads as zeros */ else { return false }
        for s in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: UInt64(size) >> UInt64(s))) }
        out += bytes[from...]
        return true
    }
}
