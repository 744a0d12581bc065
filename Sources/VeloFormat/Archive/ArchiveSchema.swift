/// The schema of a snapshot, made readable by SQLite itself: the archive's CREATE TABLE statements are run in
/// an in-memory database, so columns, types and keys come from SQLite's own parser.
package struct ArchiveSchema {
    /// `sqlite_schema` rows of the archive, in order.
    package var objects: [SQLiteSchema.Object]
    package var schema: SQLiteSchema
    /// Schema rows no restore may run (`SchemaStatement`): each names the object and why. Plan blocks on them.
    package var problems: [String]

    package init(rows: [[RecordValue]]) throws {
        func text(_ v: RecordValue) -> String? { if case .text(let t) = v { return String(decoding: t, as: UTF8.self) }; return nil }
        objects = rows.filter { $0.count == 4 }.map {
            SQLiteSchema.Object(type: text($0[0]) ?? "", name: text($0[1]) ?? "", tableName: text($0[2]) ?? "", sql: text($0[3]))
        }
        problems = Self.problems(objects)
        let db = try Database(path: ":memory:", mode: .create)
        for object in objects where object.type == "table" && !object.name.hasPrefix("sqlite_") {
            if let sql = object.sql { try? db.executeCreate(sql) }
        }
        for object in objects where object.type == "index" {
            if let sql = object.sql { try? db.executeCreate(sql) }
        }
        schema = try SQLiteSchema.read(from: db)
    }

    /// Why each refused object would not be run, as `schema object NAME (TYPE): REASON`.
    package static func problems(_ objects: [SQLiteSchema.Object]) -> [String] {
        let kinds: Set<String> = ["table", "index", "view", "trigger"]
        return objects.compactMap { object in
            guard let sql = object.sql else { return nil }
            guard kinds.contains(object.type) else { return "schema object \(object.name): unknown type \(object.type)" }
            return SchemaStatement.problem(sql, type: object.type).map { "schema object \(object.name) (\(object.type)): its SQL \($0)" }
        }
    }

    /// The CREATE statements of a table's indexes and triggers, in archive order.
    package func dependents(of table: String) -> [String] {
        objects.filter { $0.tableName == table && $0.type != "table" }.compactMap(\.sql)
    }

    package func createSQL(_ table: String) -> String? {
        objects.first { $0.type == "table" && $0.name == table }?.sql
    }
}

/// SQLite's type affinity of a declared type (datatype3.html §3.1): what "the same kind of column" means.
package enum Affinity: String {
    case integer, text, blob, real, numeric

    package init(declared: String) {
        let t = declared.uppercased()
        if t.contains("INT") {
            self = .integer
        } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
            self = .text
        } else if t.contains("BLOB") || t.isEmpty {
            self = .blob
        } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
            self = .real
        } else {
            self = .numeric
        }
    }
}
