import Foundation

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// One generated plan-versus-restore scenario: which source snapshot, what target (a copy of the source mutated the
/// way Veloquent leaves databases, a missing file, or the source itself), and which restore options. Everything is
/// derived from a seed, so a failing scenario is reproduced by its seed alone; `mutations` can be cut down to shrink it.
struct RestoreScenario: CustomStringConvertible {
    enum Target: String {
        case mutatedCopy = "mutated copy", missing = "missing file", source = "the source itself"
        /// Another database (another demo install, or the real Veloquent fixture), mutated too.
        case otherDatabase = "another database"
    }

    var seed: UInt64
    var source: Int
    var target: Target
    var mutations: [RestoreMutation]
    var options: RestoreOptions
    /// Restore through a saved plan (`velo plan --out`, then `velo restore --plan`).
    var savedPlan: Bool

    var description: String {
        var flags = ["--conflict \(options.conflict.rawValue)"]
        for (c, s) in options.conflictFor.sorted(by: { $0.key < $1.key }) { flags.append("--conflict-for \(c)=\(s.rawValue)") }
        if let c = options.collections { flags.append("--collections \(c.joined(separator: ","))") }
        if let s = options.systemTables { flags.append(s.isEmpty ? "--no-system-tables" : "--system-tables \(s.joined(separator: ","))") }
        if savedPlan { flags.append("--out/--plan") }
        return "seed \(seed), source \(source), target \(target.rawValue), \(flags.joined(separator: " ")), mutations: "
            + (mutations.isEmpty ? "none" : mutations.map(\.description).joined(separator: "; "))
    }

    static let userCollections = ["users", "tags", "posts", "comments"]

    /// The scenario of `seed`, over `sources` source databases.
    static func generate(seed: UInt64, sources: Int) -> RestoreScenario {
        var random = SeededRandom(seed: SeededRandom.mix(seed &+ 0x5EED))
        let roll = random.below(100)
        let target: Target = roll < 8 ? .missing : (roll < 14 ? .source : (roll < 26 ? .otherDatabase : .mutatedCopy))
        var options = RestoreOptions()
        options.conflict = random.chance(50) ? .overwrite : .skip
        if random.chance(20) {
            let c = userCollections[random.below(userCollections.count)]
            options.conflictFor[c] = options.conflict == .skip ? .overwrite : .skip
        }
        if random.chance(20) {
            let picked = userCollections.filter { _ in random.chance(50) }
            options.collections = picked.isEmpty ? [userCollections[random.below(userCollections.count)]] : picked
        }
        if random.chance(25) {
            let all = RestoreOptions.defaultSystemTables
            options.systemTables = random.chance(30) ? [] : all.filter { _ in random.chance(50) }
        }
        var mutations: [RestoreMutation] = []
        if target == .mutatedCopy || target == .otherDatabase {
            for _ in 0..<(1 + random.below(4)) { mutations.append(RestoreMutation.generate(&random)) }
        }
        return RestoreScenario(
            seed: seed, source: random.below(sources), target: target, mutations: mutations, options: options,
            savedPlan: random.chance(15))
    }
}

/// One change to a copy of the source, made the way Veloquent makes it: rows deleted, updated or inserted (unique
/// collisions included), fields added, dropped, retyped or made NOT NULL (metadata and table together), managed
/// indexes added and removed, collections renamed, deleted or re-created under a new id, relations retargeted,
/// pivots emptied, superusers, `schema_jobs` markers and migrations.
enum RestoreMutation: CustomStringConvertible, Equatable {
    case deleteRows(table: String, count: Int, offset: Int)
    case updateRows(table: String, column: String, count: Int, offset: Int)
    case insertRows(table: String, count: Int)
    case uniqueCollision(table: String, column: String, offset: Int)
    case addField(collection: String, field: String)
    case dropField(collection: String, field: String)
    case retypeField(collection: String, field: String, to: String)
    case makeNotNull(collection: String, field: String)
    case addIndex(collection: String, column: String)
    case removeUniqueIndex(collection: String, column: String, duplicate: Bool)
    case renameCollection(from: String, to: String)
    case deleteCollection(String)
    case recreateCollection(String)
    case retargetRelation(collection: String, field: String, to: String)
    case emptyPivot
    case schemaJob(collection: String)
    case dropMigration
    case extraMigration

    var description: String {
        switch self {
        case .deleteRows(let t, let n, let o): return "delete \(n) rows of \(t) from \(o)"
        case .updateRows(let t, let c, let n, let o): return "update \(t).\(c) of \(n) rows from \(o)"
        case .insertRows(let t, let n): return "insert \(n) rows into \(t)"
        case .uniqueCollision(let t, let c, let o): return "a new row of \(t) takes \(c) of row \(o)"
        case .addField(let c, let f): return "add field \(c).\(f)"
        case .dropField(let c, let f): return "drop field \(c).\(f)"
        case .retypeField(let c, let f, let t): return "retype field \(c).\(f) to \(t)"
        case .makeNotNull(let c, let f): return "make \(c).\(f) NOT NULL"
        case .addIndex(let c, let col): return "add index on \(c).\(col)"
        case .removeUniqueIndex(let c, let col, let d): return "remove unique index on \(c).\(col)\(d ? " and duplicate a value" : "")"
        case .renameCollection(let a, let b): return "rename collection \(a) to \(b)"
        case .deleteCollection(let c): return "delete collection \(c)"
        case .recreateCollection(let c): return "re-create collection \(c) under a new id"
        case .retargetRelation(let c, let f, let t): return "retarget \(c).\(f) to \(t)"
        case .emptyPivot: return "empty the posts-tags pivot"
        case .schemaJob(let c): return "leave a schema_jobs marker for \(c)"
        case .dropMigration: return "drop the last migration"
        case .extraMigration: return "add a newer migration"
        }
    }

    static let rowTables = [
        "_velo_posts", "_velo_comments", "_velo_users", "_velo_tags", "superusers", "auth_tokens", "otp_tokens",
        "oauth_accounts", "email_templates", "settings",
    ]
    static let textColumns = [
        "_velo_posts": "title", "_velo_comments": "body", "_velo_users": "name", "_velo_tags": "color",
        "superusers": "name", "auth_tokens": "user_agent", "otp_tokens": "action", "oauth_accounts": "email",
        "email_templates": "content", "settings": "payload",
    ]
    static let nullableFields = [
        ("posts", "body"), ("posts", "meta"), ("posts", "views"), ("posts", "cover"), ("comments", "author"),
        ("tags", "color"), ("users", "name"),
    ]

    static func generate(_ random: inout SeededRandom) -> RestoreMutation {
        func pick<T>(_ values: [T]) -> T { values[random.below(values.count)] }
        switch random.below(100) {
        case 0..<14: return .deleteRows(table: pick(rowTables), count: 1 + random.below(6), offset: random.below(10))
        case 14..<28: return .updateRows(table: pick(rowTables), column: "", count: 1 + random.below(6), offset: random.below(10))
        case 28..<38:
            return .insertRows(
                table: pick(["_velo_posts", "_velo_comments", "_velo_users", "_velo_tags", "superusers"]), count: 1 + random.below(3))
        case 38..<43:
            return pick([
                RestoreMutation.uniqueCollision(table: "superusers", column: "email", offset: random.below(3)),
                .uniqueCollision(table: "_velo_tags", column: "name", offset: random.below(10)),
                .uniqueCollision(table: "_velo_users", column: "email", offset: random.below(10)),
            ])
        case 43..<49: return .addField(collection: pick(["posts", "tags", "comments"]), field: "extra")
        case 49..<57:
            let (c, f) = pick(nullableFields)
            return .dropField(collection: c, field: f)
        case 57..<63:
            return pick([
                RestoreMutation.retypeField(collection: "posts", field: "body", to: "text"),
                .retypeField(collection: "comments", field: "body", to: "richtext"),
                .retypeField(collection: "tags", field: "color", to: "text"),
                .retypeField(collection: "posts", field: "title", to: "longtext"),
                .retypeField(collection: "posts", field: "views", to: "text"),
            ])
        case 63..<70:
            let (c, f) = pick(nullableFields)
            return .makeNotNull(collection: c, field: f)
        case 70..<74: return .addIndex(collection: pick(["posts", "comments"]), column: pick(["created_at", "updated_at"]))
        case 74..<79:
            return pick([
                RestoreMutation.removeUniqueIndex(collection: "tags", column: "name", duplicate: random.chance(70)),
                .removeUniqueIndex(collection: "users", column: "email", duplicate: random.chance(70)),
            ])
        case 79..<81: return .renameCollection(from: "comments", to: "remarks")
        case 81..<84: return .deleteCollection(pick(["comments", "tags"]))
        case 84..<89: return .recreateCollection(pick(["users", "comments", "tags"]))
        case 89..<91: return .retargetRelation(collection: "comments", field: "author", to: "superusers")
        case 91..<94: return .emptyPivot
        case 94..<96: return .schemaJob(collection: pick(["posts", "tags"]))
        case 96..<98: return .dropMigration
        default: return .extraMigration
        }
    }

    // MARK: Applying

    func apply(to db: Database) throws {
        switch self {
        case .deleteRows(let t, let n, let o):
            try db.execute(
                "DELETE FROM \(SQL.quote(t)) WHERE rowid IN (SELECT rowid FROM \(SQL.quote(t)) ORDER BY rowid LIMIT \(n) OFFSET \(o))")
        case .updateRows(let t, _, let n, let o):
            guard let column = Self.textColumns[t], try layout(db).schema.table(t)?.column(column) != nil else { return }
            try db.execute(
                "UPDATE \(SQL.quote(t)) SET \(SQL.quote(column)) = 'changed ' || rowid WHERE rowid IN (SELECT rowid FROM \(SQL.quote(t)) ORDER BY rowid LIMIT \(n) OFFSET \(o))"
            )
        case .insertRows(let t, let n):
            try insertCopies(db, table: t, count: n, uniqueFresh: true, offset: 0)
        case .uniqueCollision(let t, let column, let o):
            // The archive's row keeps its value in the archive; in the target another row (a new id) holds it.
            guard let table = try layout(db).schema.table(t), table.column(column) != nil else { return }
            guard let row = try db.rows("SELECT rowid, \(SQL.quote(column)) FROM \(SQL.quote(t)) ORDER BY rowid LIMIT 1 OFFSET \(o)").first,
                case .integer(let r) = row[0]
            else { return }
            try db.execute("UPDATE \(SQL.quote(t)) SET \(SQL.quote(column)) = 'moved-' || rowid || '@acme.test' WHERE rowid = \(r)")
            try insertCopies(db, table: t, count: 1, uniqueFresh: false, offset: o, overrides: [column: row[1]])
        case .addField(let c, let f):
            guard var meta = try collection(db, c), meta.table.column(f) == nil else { return }
            meta.fields.append(
                .object([
                    ("id", .string("ffff0001")), ("name", .string(f)), ("type", .string("text")), ("order", .int(meta.fields.count)),
                    ("nullable", .bool(true)), ("unique", .bool(false)), ("min", .null), ("max", .null), ("default", .null),
                ]))
            try db.execute("ALTER TABLE \(SQL.quote(meta.tableName)) ADD COLUMN \(SQL.quote(f)) varchar")
            try save(db, meta)
        case .dropField(let c, let f):
            guard var meta = try collection(db, c), meta.table.column(f) != nil else { return }
            for index in meta.table.indexes where index.columns.contains(f) { try db.execute("DROP INDEX \(SQL.quote(index.name))") }
            meta.indexes = meta.indexes.filter { !($0["columns"]?.arrayValue?.contains(.string(f)) ?? false) }
            meta.fields = meta.fields.filter { $0["name"]?.stringValue != f }
            try db.execute("ALTER TABLE \(SQL.quote(meta.tableName)) DROP COLUMN \(SQL.quote(f))")
            try save(db, meta)
        case .retypeField(let c, let f, let type):
            guard var meta = try collection(db, c), meta.table.column(f) != nil else { return }
            meta.fields = meta.fields.map { $0["name"]?.stringValue == f ? setting("type", .string(type), in: $0) : $0 }
            try save(db, meta)
            try recover(db, c)
        case .makeNotNull(let c, let f):
            guard var meta = try collection(db, c), let column = meta.table.column(f) else { return }
            let filler = Affinity(declared: column.declaredType) == .text ? "'filled'" : "0"
            try db.execute("UPDATE \(SQL.quote(meta.tableName)) SET \(SQL.quote(f)) = \(filler) WHERE \(SQL.quote(f)) IS NULL")
            meta.fields = meta.fields.map { $0["name"]?.stringValue == f ? setting("nullable", .bool(false), in: $0) : $0 }
            try save(db, meta)
            try recover(db, c)
        case .addIndex(let c, let column):
            guard var meta = try collection(db, c), meta.table.column(column) != nil else { return }
            let spec = IndexSpec(columns: [column], kind: .index)
            guard !meta.table.indexes.contains(where: { $0.name == spec.physicalName(table: meta.tableName) }) else { return }
            meta.indexes.append(.object([("columns", .array([.string(column)])), ("type", .string("index"))]))
            try db.execute(CollectionDDL.createIndex(spec, table: meta.tableName))
            try save(db, meta)
        case .removeUniqueIndex(let c, let column, let duplicate):
            guard var meta = try collection(db, c) else { return }
            let name = IndexSpec(columns: [column], kind: .unique).physicalName(table: meta.tableName)
            guard meta.table.indexes.contains(where: { $0.name == name }) else { return }
            meta.indexes = meta.indexes.filter { $0["columns"]?.arrayValue != [.string(column)] || $0["type"]?.stringValue != "unique" }
            meta.fields = meta.fields.map { $0["name"]?.stringValue == column ? setting("unique", .bool(false), in: $0) : $0 }
            try db.execute("DROP INDEX \(SQL.quote(name))")
            try save(db, meta)
            if duplicate { try insertCopies(db, table: meta.tableName, count: 1, uniqueFresh: false, offset: 1) }
        case .renameCollection(let from, let to):
            guard let meta = try collection(db, from) else { return }
            let newTable = "_velo_" + to
            for index in meta.table.indexes where index.origin == "c" { try db.execute("DROP INDEX \(SQL.quote(index.name))") }
            try db.execute("ALTER TABLE \(SQL.quote(meta.tableName)) RENAME TO \(SQL.quote(newTable))")
            try db.execute("UPDATE collections SET name = ?, table_name = ? WHERE name = ?", [.text(to), .text(newTable), .text(from)])
            guard let renamed = try layout(db).collection(named: to) else { throw VeloError("rename failed") }
            for sql in CollectionDDL.createIndexes(renamed) { try db.execute(sql) }
        case .deleteCollection(let c):
            guard let meta = try collection(db, c) else { return }
            // Veloquent drops the table, its pivot tables and the metadata; relations pointing at it stay dangling.
            for pivot in try layout(db).pivots where pivot.sourceCollection == c || pivot.name.contains("_\(c)_") {
                try db.execute("DROP TABLE IF EXISTS \(SQL.quote(pivot.name))")
            }
            try db.execute("DROP TABLE \(SQL.quote(meta.tableName))")
            try db.execute("DELETE FROM collections WHERE name = ?", [.text(c)])
        case .recreateCollection(let c):
            guard let meta = try collection(db, c) else { return }
            let newID =
                "01zz"
                + String(SeededRandom.mix(UInt64(c.utf8.count)) % 1_000_000_000_000, radix: 36).padding(
                    toLength: 22, withPad: "0", startingAt: 0)
            let pivots = try layout(db).pivots.filter { $0.sourceCollection == c || $0.name.contains("_\(c)_") }
            for pivot in pivots { try db.execute("DELETE FROM \(SQL.quote(pivot.name))") }
            try db.execute("DROP TABLE \(SQL.quote(meta.tableName))")
            let columns = try db.rows("SELECT name FROM pragma_table_info('collections')").compactMap { $0.first?.stringValue }
            guard let row = try db.rows("SELECT \(SQL.quoteList(columns)) FROM collections WHERE name = ?", [.text(c)]).first else {
                return
            }
            try db.execute("DELETE FROM collections WHERE name = ?", [.text(c)])  // cascades to oauth_providers and oauth_accounts
            var values = row
            values[columns.firstIndex(of: "id")!] = .text(newID)
            try db.execute(
                "INSERT INTO collections (\(SQL.quoteList(columns))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))", values)
            guard let recreated = try layout(db).collection(named: c) else { throw VeloError("re-creation failed") }
            try db.execute(CollectionDDL.createTable(recreated))
            for sql in CollectionDDL.createIndexes(recreated) { try db.execute(sql) }
            // Relations of other collections follow the new id, as Veloquent's field editor would have them.
            let oldID = meta.id
            try db.execute("UPDATE collections SET fields = replace(fields, ?, ?)", [.text("\"\(oldID)\""), .text("\"\(newID)\"")])
        case .retargetRelation(let c, let f, let to):
            guard var meta = try collection(db, c), let target = try layout(db).collection(named: to) else { return }
            meta.fields = meta.fields.map {
                $0["name"]?.stringValue == f ? setting("target_collection_id", .string(target.id), in: $0) : $0
            }
            try save(db, meta)
        case .emptyPivot:
            for pivot in try layout(db).pivots { try db.execute("DELETE FROM \(SQL.quote(pivot.name))") }
        case .schemaJob(let c):
            guard let meta = try collection(db, c) else { return }
            try db.execute(
                "INSERT INTO schema_jobs (collection_id, operation, table_name, started_at) VALUES (?, 'update', ?, '2026-11-01 00:00:00')",
                [.text(meta.id), .text(meta.tableName)])
        case .dropMigration:
            try db.execute("DELETE FROM migrations WHERE id = (SELECT max(id) FROM migrations)")
        case .extraMigration:
            try db.execute("INSERT INTO migrations (migration, batch) VALUES ('2099_01_01_000000_a_newer_veloquent', 9)")
        }
    }

    func layout(_ db: Database) throws -> TenantDatabase { try TenantDatabase.load(db) }

    /// A collection's metadata as editable JSON, with its table.
    struct Editable {
        var name: String
        var id: String
        var tableName: String
        var table: SQLiteSchema.Table
        var fields: [JSONValue]
        var indexes: [JSONValue]
    }

    func collection(_ db: Database, _ name: String) throws -> Editable? {
        let layout = try layout(db)
        guard let c = layout.collection(named: name), let table = layout.schema.table(c.tableName),
            let row = try db.rows("SELECT fields, coalesce(indexes, '[]') FROM collections WHERE name = ?", [.text(name)]).first,
            let fields = try JSONParser.parse(row[0].stringValue ?? "[]").arrayValue,
            let indexes = try JSONParser.parse(row[1].stringValue ?? "[]").arrayValue
        else { return nil }
        return Editable(name: name, id: c.id, tableName: c.tableName, table: table, fields: fields, indexes: indexes)
    }

    func save(_ db: Database, _ meta: Editable) throws {
        try db.execute(
            "UPDATE collections SET fields = ?, indexes = ? WHERE name = ?",
            [
                .text(JSONWriter.string(.array(meta.fields), escapesSlashes: true)),
                .text(JSONWriter.string(.array(meta.indexes), escapesSlashes: true)), .text(meta.name),
            ])
    }

    /// Veloquent rebuilds a table whose fields changed type or nullability; `schema recover` does the same.
    func recover(_ db: Database, _ collection: String) throws {
        // Its steps run inside the caller's savepoint (run() would open a transaction of its own).
        for step in try SchemaRecovery(database: db, layout: try layout(db), collection: collection).plan() {
            if let refusal = step.refusal {
                if !(try db.rows(step.sql)).isEmpty { throw VeloError(refusal) }
            } else {
                try db.execute(step.sql)
            }
        }
    }

    func setting(_ key: String, _ value: JSONValue, in object: JSONValue) -> JSONValue {
        guard case .object(var pairs) = object else { return object }
        if let i = pairs.firstIndex(where: { $0.0 == key }) { pairs[i].1 = value } else { pairs.append((key, value)) }
        return .object(pairs)
    }

    /// Inserts copies of existing rows under new ids; with `uniqueFresh`, text in unique columns is made new too.
    func insertCopies(
        _ db: Database, table: String, count: Int, uniqueFresh: Bool, offset: Int, overrides: [String: SQLiteValue] = [:]
    ) throws {
        guard let t = try layout(db).schema.table(table), t.primaryKey == ["id"] else { return }
        let uniques = Set(t.indexes.filter { $0.unique && $0.origin != "pk" }.flatMap(\.columns))
        let columns = t.storedColumns.map(\.name)
        for i in 0..<count {
            var bound: [SQLiteValue] = []
            let expressions = columns.map { column -> String in
                // A new id that sorts after every demo ULID and differs for every insert.
                if column == "id" { return "'01zz' || printf('%022d', (SELECT coalesce(max(rowid), 0) FROM \(SQL.quote(table))) + 1)" }
                if let value = overrides[column] { bound.append(value); return "?\(bound.count)" }
                if uniqueFresh && uniques.contains(column) { return "'fresh-\(i)-' || \(SQL.quote(column))" }
                return SQL.quote(column)
            }
            try db.execute(
                "INSERT INTO \(SQL.quote(table)) (\(SQL.quoteList(columns))) SELECT \(expressions.joined(separator: ", ")) FROM \(SQL.quote(table)) ORDER BY rowid LIMIT 1 OFFSET \(offset + i)",
                bound)
        }
    }
}
