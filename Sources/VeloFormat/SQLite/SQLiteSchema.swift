import Foundation

/// The physical schema of a database as SQLite reports it: `sqlite_schema` rows plus `PRAGMA table_info` and
/// `index_list`. Velo always reads the live schema rather than trusting Veloquent's metadata (see §1.3).
package struct SQLiteSchema: Sendable {
    /// One row of `sqlite_schema`, in rowid order (the order `.dump` uses).
    package struct Object: Sendable, Equatable {
        package var type: String
        package var name: String
        package var tableName: String
        /// The CREATE statement; nil for automatic indexes.
        package var sql: String?

        package init(type: String, name: String, tableName: String, sql: String? = nil) {
            self.type = type
            self.name = name
            self.tableName = tableName
            self.sql = sql
        }
    }

    /// A column as `PRAGMA table_xinfo` reports it.
    package struct Column: Sendable, Equatable {
        package var name: String
        /// The declared type exactly as written, e.g. `varchar`, `tinyint(1)`; empty when none.
        package var declaredType: String
        package var notNull: Bool
        /// The default as SQL text (`'0'`, `CURRENT_TIMESTAMP`), or nil.
        package var defaultSQL: String?
        /// 1-based position in the primary key, 0 when not part of it.
        package var primaryKeyPosition: Int
        /// 0 for ordinary columns; generated and hidden columns are not stored in rows.
        package var hidden: Int
    }

    /// An index as `PRAGMA index_list` and `index_info` report it.
    package struct Index: Sendable, Equatable {
        package var name: String
        package var table: String
        package var unique: Bool
        /// `c` (CREATE INDEX), `u` (UNIQUE constraint) or `pk` (PRIMARY KEY).
        package var origin: String
        package var partial: Bool
        package var columns: [String]
        package var sql: String?
    }

    /// A table with its columns and indexes.
    package struct Table: Sendable, Equatable {
        package var name: String
        package var sql: String?
        package var columns: [Column]
        package var indexes: [Index]
        package var withoutRowID: Bool

        /// The primary-key columns in key order; empty for a rowid table without a declared key.
        package var primaryKey: [String] {
            columns.filter { $0.primaryKeyPosition > 0 }.sorted { $0.primaryKeyPosition < $1.primaryKeyPosition }.map(\.name)
        }

        /// Columns stored in rows (generated columns excluded).
        package var storedColumns: [Column] { columns.filter { $0.hidden == 0 } }

        package func column(_ name: String) -> Column? { columns.first { $0.name == name } }
    }

    /// Every object in `sqlite_schema`, in rowid order.
    package var objects: [Object]
    /// Every table (SQLite's internal tables included), by name.
    package var tables: [String: Table]

    /// Table names in `sqlite_schema` order.
    package var tableNames: [String] { objects.filter { $0.type == "table" }.map(\.name) }

    package func table(_ name: String) -> Table? { tables[name] }

    /// Reads the schema of `database`'s main schema.
    package static func read(from database: Database) throws -> SQLiteSchema {
        var objects: [Object] = []
        try database.prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY rowid").forEachRow { row in
            objects.append(Object(type: row.string(0), name: row.string(1), tableName: row.string(2), sql: row.optionalString(3)))
        }
        var tables: [String: Table] = [:]
        let columnInfo = try database.prepare("SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?)")
        let indexList = try database.prepare("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?) ORDER BY seq DESC")
        let indexInfo = try database.prepare("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
        let sqlByName = Dictionary(objects.map { ($0.name, $0.sql) }, uniquingKeysWith: { a, _ in a })
        for object in objects where object.type == "table" {
            var columns: [Column] = []
            try columnInfo.forEachRow([.text(object.name)]) { row in
                columns.append(
                    Column(
                        name: row.string(0), declaredType: row.string(1), notNull: row.int(2) != 0,
                        defaultSQL: row.optionalString(3), primaryKeyPosition: row.int(4), hidden: row.int(5)))
            }
            var indexes: [Index] = []
            try indexList.forEachRow([.text(object.name)]) { row in
                indexes.append(
                    Index(
                        name: row.string(0), table: object.name, unique: row.int(1) != 0, origin: row.string(2),
                        partial: row.int(3) != 0, columns: [], sql: nil))
            }
            for i in indexes.indices {
                var names: [String] = []
                try indexInfo.forEachRow([.text(indexes[i].name)]) { names.append($0.optionalString(0) ?? "<expr>") }
                indexes[i].columns = names
                indexes[i].sql = sqlByName[indexes[i].name] ?? nil
            }
            let withoutRowID = object.sql.map { $0.range(of: "without rowid", options: .caseInsensitive) != nil } ?? false
            tables[object.name] = Table(name: object.name, sql: object.sql, columns: columns, indexes: indexes, withoutRowID: withoutRowID)
        }
        return SQLiteSchema(objects: objects, tables: tables)
    }
}
