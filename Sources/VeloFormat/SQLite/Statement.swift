import CSQLite

/// A prepared statement with typed binding and typed column access. Owned by one thread at a time;
/// finalized when the last reference goes away.
package final class Statement {
    let handle: OpaquePointer
    /// The database this statement runs on; kept alive as long as the statement is.
    package let database: Database
    /// The SQL text the statement was prepared from.
    package let sql: String

    init(database: Database, sql: String) throws {
        self.database = database
        self.sql = sql
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(database.handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            throw database.error(code: rc, sql: sql)
        }
        handle = stmt
    }

    deinit { sqlite3_finalize(handle) }

    // MARK: Binding (indexes are 1-based, as in SQLite)

    /// The number of parameters the statement takes.
    package var parameterCount: Int32 { sqlite3_bind_parameter_count(handle) }

    package func bindNull(at index: Int32) throws {
        try check(sqlite3_bind_null(handle, index))
    }

    package func bind(_ value: Int64, at index: Int32) throws {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    package func bind(_ value: Int, at index: Int32) throws {
        try check(sqlite3_bind_int64(handle, index, Int64(value)))
    }

    package func bind(_ value: Double, at index: Int32) throws {
        try check(sqlite3_bind_double(handle, index, value))
    }

    package func bind(_ value: Bool, at index: Int32) throws {
        try check(sqlite3_bind_int64(handle, index, value ? 1 : 0))
    }

    /// Binds text with its exact UTF-8 bytes (NUL bytes included).
    package func bind(_ value: String, at index: Int32) throws {
        var value = value
        try value.withUTF8 { utf8 in
            try bindText(UnsafeRawBufferPointer(utf8), at: index)
        }
    }

    /// Binds raw bytes as TEXT, unchanged (they need not be valid UTF-8).
    package func bindText(_ bytes: UnsafeRawBufferPointer, at index: Int32) throws {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count > 0 else {
            // An empty string is text, not NULL: SQLite needs a non-null pointer for that.
            var empty: CChar = 0
            try check(sqlite3_bind_text64(handle, index, &empty, 0, SQLiteDestructor.transient, UInt8(SQLITE_UTF8)))
            return
        }
        try check(sqlite3_bind_text64(handle, index, base, sqlite3_uint64(bytes.count), SQLiteDestructor.transient, UInt8(SQLITE_UTF8)))
    }

    /// Binds raw bytes as TEXT without copying them: the caller keeps them alive and unchanged until the
    /// statement has been stepped and the parameter is bound again (the restore path binds straight from a row).
    package func bindTextNoCopy(_ bytes: UnsafeRawBufferPointer, at index: Int32) throws {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count > 0 else {
            try bindText(bytes, at: index)
            return
        }
        try check(sqlite3_bind_text64(handle, index, base, sqlite3_uint64(bytes.count), nil, UInt8(SQLITE_UTF8)))
    }

    /// Binds bytes as a BLOB.
    package func bindBlob(_ bytes: UnsafeRawBufferPointer, at index: Int32) throws {
        if bytes.count == 0 {
            try check(sqlite3_bind_zeroblob(handle, index, 0))
        } else {
            try check(sqlite3_bind_blob64(handle, index, bytes.baseAddress, sqlite3_uint64(bytes.count), SQLiteDestructor.transient))
        }
    }

    package func bind(_ value: SQLiteValue, at index: Int32) throws {
        switch value {
        case .null: try bindNull(at: index)
        case .integer(let i): try bind(i, at: index)
        case .real(let d): try bind(d, at: index)
        case .text(let s): try bind(s, at: index)
        case .blob(let b): try b.withUnsafeBytes { try bindBlob($0, at: index) }
        }
    }

    /// Binds values to parameters 1...n.
    package func bind(_ values: [SQLiteValue]) throws {
        for (offset, value) in values.enumerated() {
            try bind(value, at: Int32(offset + 1))
        }
    }

    // MARK: Running

    /// Steps once. Returns true when a row is available, false when the statement is done.
    @discardableResult
    package func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw database.error(code: rc, sql: sql)
        }
    }

    /// Resets the statement so it can run again; bindings are kept.
    package func reset() {
        sqlite3_reset(handle)
    }

    /// Clears all bindings to NULL.
    package func clearBindings() {
        sqlite3_clear_bindings(handle)
    }

    /// Binds `values`, runs the statement to completion and resets it.
    package func run(_ values: [SQLiteValue] = []) throws {
        reset()
        try bind(values)
        defer { reset() }
        while try step() {}
    }

    /// Runs the statement and calls `body` for each row. The statement is reset before and after.
    package func forEachRow(_ values: [SQLiteValue] = [], _ body: (Statement) throws -> Void) throws {
        reset()
        try bind(values)
        defer { reset() }
        while try step() { try body(self) }
    }

    // MARK: Columns (indexes are 0-based, as in SQLite)

    package var columnCount: Int32 { sqlite3_column_count(handle) }

    package func columnName(_ index: Int32) -> String {
        String(cString: sqlite3_column_name(handle, index))
    }

    /// All column names of the result.
    package var columnNames: [String] { (0..<columnCount).map(columnName) }

    /// The storage class of the column's value in the current row.
    package func storageClass(_ index: Int32) -> StorageClass { columnValue(index).storageClass }

    /// The column's value object in the current row: one call into the statement for a column, where
    /// `sqlite3_column_type` and an accessor are two (what a backup's reading thread does for every value).
    /// Valid until the next step, on this statement's thread only (SQLite calls such an unprotected value not
    /// threadsafe; velo opens its connections NOMUTEX and uses each from one thread at a time).
    package func columnValue(_ index: Int32) -> ColumnValue { ColumnValue(handle: sqlite3_column_value(handle, index)) }

    package func int64(_ index: Int32) -> Int64 { sqlite3_column_int64(handle, index) }
    package func int(_ index: Int32) -> Int { Int(sqlite3_column_int64(handle, index)) }
    package func double(_ index: Int32) -> Double { sqlite3_column_double(handle, index) }
    package func isNull(_ index: Int32) -> Bool { sqlite3_column_type(handle, index) == SQLITE_NULL }

    /// The column as text (lossy only for bytes that are not valid UTF-8, which become U+FFFD).
    package func string(_ index: Int32) -> String {
        withTextBytes(index) { String(decoding: $0, as: UTF8.self) }
    }

    /// The column as text, or nil when it is NULL.
    package func optionalString(_ index: Int32) -> String? {
        isNull(index) ? nil : string(index)
    }

    /// Gives the column's exact text bytes, valid only inside `body`.
    package func withTextBytes<R>(_ index: Int32, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try columnValue(index).withTextBytes(body)
    }

    /// Gives the column's exact blob bytes, valid only inside `body`.
    package func withBlobBytes<R>(_ index: Int32, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try columnValue(index).withBlobBytes(body)
    }

    package func blob(_ index: Int32) -> [UInt8] {
        withBlobBytes(index) { Array($0) }
    }

    /// The column's value with its storage class.
    package func value(_ index: Int32) -> SQLiteValue {
        switch storageClass(index) {
        case .null: return .null
        case .integer: return .integer(int64(index))
        case .real: return .real(double(index))
        case .text: return .text(string(index))
        case .blob: return .blob(blob(index))
        }
    }

    /// Every column of the current row.
    package func row() -> [SQLiteValue] {
        (0..<columnCount).map(value)
    }

    private func check(_ rc: Int32) throws {
        if rc != SQLITE_OK { throw database.error(code: rc, sql: sql) }
    }
}

/// SQLite's special destructor values, which C defines as casts that Swift does not import.
enum SQLiteDestructor {
    /// `SQLITE_TRANSIENT`: SQLite copies the bytes before the bind call returns.
    static var transient: sqlite3_destructor_type {
        unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
    }
}

/// A result column's value in the current row (`Statement.columnValue(_:)`).
package struct ColumnValue {
    let handle: OpaquePointer?

    package var storageClass: StorageClass {
        switch sqlite3_value_type(handle) {
        case SQLITE_INTEGER: return .integer
        case SQLITE_FLOAT: return .real
        case SQLITE_TEXT: return .text
        case SQLITE_BLOB: return .blob
        default: return .null
        }
    }

    package var int64: Int64 { sqlite3_value_int64(handle) }
    package var double: Double { sqlite3_value_double(handle) }

    /// The text's UTF-8 bytes, valid only inside `body`.
    package func withTextBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let pointer = sqlite3_value_text(handle)
        let count = Int(sqlite3_value_bytes(handle))
        return try body(UnsafeRawBufferPointer(start: pointer, count: pointer == nil ? 0 : count))
    }

    /// The blob's bytes, valid only inside `body`.
    package func withBlobBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let pointer = sqlite3_value_blob(handle)
        let count = Int(sqlite3_value_bytes(handle))
        return try body(UnsafeRawBufferPointer(start: pointer, count: pointer == nil ? 0 : count))
    }
}
