import CSQLite
import Foundation

/// The rule for SQL taken from an archive's schema: exactly one CREATE statement of the object's own kind.
/// `CREATE TABLE t(x); DELETE FROM superusers` is refused, and so is a "table" whose SQL creates a trigger.
/// Checked without a database (SQLite's own `sqlite3_complete` finds where the first statement ends), so plan
/// and restore apply the same rule before anything runs.
package enum SchemaStatement {
    /// Why `sql` is not a single CREATE statement of kind `type` (`table`, `index`, `view`, `trigger`), or nil.
    static func problem(_ sql: String, type: String?) -> String? {
        let trimmed = sql.trimmingCharacters(in: .whitespacesAndNewlines)
        let words = trimmed.prefix(64).split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" || $0 == "(" })
            .prefix(4).map { $0.uppercased() }
        guard words.first == "CREATE" else { return "is not a CREATE statement" }
        if let type {
            let kind = words.dropFirst().first { !["TEMP", "TEMPORARY", "UNIQUE", "VIRTUAL"].contains($0) }
            guard kind == type.uppercased() else { return "is a \(type) whose SQL does not create a \(type)" }
        }
        let bytes = Array(trimmed.utf8)
        var end = bytes.count
        for (i, byte) in bytes.enumerated() where byte == UInt8(ascii: ";") {
            let prefix = String(decoding: bytes[...i], as: UTF8.self)
            if sqlite3_complete(prefix) == 1 { end = i + 1; break }
        }
        let rest = String(decoding: bytes[end...], as: UTF8.self)
        // SQLite stores a CREATE statement's own text, without even its semicolon: anything after it is foreign.
        if !rest.trimmingCharacters(in: CharacterSet.whitespacesAndNewlines.union(.init(charactersIn: ";"))).isEmpty {
            return "holds more than one statement"
        }
        return nil
    }
}
