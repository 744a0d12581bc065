import CSQLite

/// An error reported by SQLite, carrying its message, result code, the database file and the statement at fault.
public struct SQLiteError: VeloFailure {
    public var kind: ErrorKind { .database }
    /// The primary result code (`SQLITE_BUSY`, `SQLITE_NOTADB`, ...).
    public let code: Int32
    /// The extended result code, when SQLite gave one.
    public let extendedCode: Int32
    /// SQLite's own message (`sqlite3_errmsg`).
    public let message: String
    /// The database file the error happened on.
    public let path: String
    /// The SQL being prepared or run, when there was one.
    public let sql: String?

    public init(code: Int32, extendedCode: Int32? = nil, message: String, path: String, sql: String? = nil) {
        self.code = code & 0xff
        self.extendedCode = extendedCode ?? code
        self.message = message
        self.path = path
        self.sql = sql
    }

    /// True for `SQLITE_BUSY` and `SQLITE_LOCKED`: another connection holds a lock past the busy timeout.
    public var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
    /// True when the file is not an SQLite database (or is encrypted, or its header is damaged).
    public var isNotADatabase: Bool { code == SQLITE_NOTADB }
    /// True when the disk or the database's `max_page_count` is full.
    public var isFull: Bool { code == SQLITE_FULL }
    /// True when a read-only connection met a hot rollback journal: a write to the file was interrupted (a
    /// killed process, a power cut) and only a read-write open can roll it back.
    public var isHotJournal: Bool { extendedCode == SQLITE_READONLY | (3 << 8) }  // SQLITE_READONLY_ROLLBACK (a C macro)

    public var description: String {
        var text = "\(path): \(message)"
        if isBusy { text += " (another process holds a lock past the busy timeout)" }
        if isHotJournal {
            text +=
                " (a write to it was interrupted and its rollback journal waits beside it: the next read-write open, such as Veloquent's next request, rolls it back; velo opens a source read-only and cannot)"
        }
        if let sql {
            let short = sql.count > 160 ? String(sql.prefix(157)) + "..." : sql
            text += " [in: \(short.replacingOccurrences(of: "\n", with: " "))]"
        }
        return text
    }
}
