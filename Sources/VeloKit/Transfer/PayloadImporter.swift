import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Veloquent's schema-transfer import (`SchemaTransferService::import`), step for step, run inside one
/// transaction that the caller commits or rolls back. Instead of stopping at the first failure, every blocker
/// is recorded as a finding (the planner's format) and the rest of the payload is still checked, so one run
/// both plans and, when nothing blocks, imports. Where Veloquent is lossy velo is better: JSON text is
/// written back as it was exported (no double encoding), `collection_id` in system rows follows the collection
/// id remapping, and an overwrite that would drop a column holding data is a blocker, not a loss.
final class PayloadImporter: PayloadReader.RecordsSink {
    let db: Database
    let conflict: RestorePlan.Strategy
    /// Keep the payload's collection ids (a snapshot of the exporting database) instead of new ones.
    let preserveIDs: Bool
    let path: String
    /// Called before each row is written (tests inject failures here).
    var beforeRow: ((String, Int) throws -> Void)?
    /// Told every few thousand rows how many were read.
    var progress: (any ProgressObserver)?
    private var rowsRead = 0

    private(set) var result = TransferResult()
    private var prefix = CollectionMetadata.defaultPrefix
    private var idMapping: [String: String] = [:]
    private var apiRules: [(name: String, rules: JSONValue)] = []
    /// Collections created or overwritten by this import, whose pivot tables are made after the remap.
    private var touched: [String] = []
    private let now = Timestamp.format(Timestamp.now)
    private var baselineViolations = 0
    /// (table, index, CREATE INDEX) of tables this import created, built in `finish`.
    private var deferredIndexes: [(table: String, name: String, sql: String)] = []
    private var random = SystemRandomNumberGenerator()

    init(db: Database, conflict: RestorePlan.Strategy, preserveIDs: Bool = false, path: String) throws {
        self.db = db
        self.conflict = conflict
        self.preserveIDs = preserveIDs
        self.path = path
        let layout = try TenantDatabase.load(db)
        guard layout.kind != .landlord else {
            throw VeloError("\(db.path): a landlord database has no collections; import into a tenant database")
        }
        prefix = layout.prefix
        baselineViolations = try db.rows("PRAGMA foreign_key_check").count
    }

    // MARK: Findings

    private var findingIndex: [String: Int] = [:]

    func block(_ check: String, table: String? = nil, collection: String? = nil, _ message: String, example: String? = nil) {
        let key = "\(check)\u{1}\(table ?? "")\u{1}\(message)"
        if let i = findingIndex[key] {
            result.findings[i].count = (result.findings[i].count ?? 1) + 1
            if let example, result.findings[i].examples.count < 5 { result.findings[i].examples.append(example) }
            return
        }
        findingIndex[key] = result.findings.count
        result.findings.append(
            RestorePlan.Finding(
                severity: .error, check: check, collection: collection, table: table, message: message,
                count: example == nil ? nil : 1, examples: example.map { [$0] } ?? []))
    }

    func note(_ check: String, table: String? = nil, collection: String? = nil, _ message: String) {
        result.findings.append(
            RestorePlan.Finding(
                severity: .info, check: check, collection: collection, table: table, message: message, count: nil, examples: []))
    }

    // MARK: Ids

    func newCollectionID() -> String {
        let ms = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        return ULID.string(
            milliseconds: ms, high: UInt16.random(in: 0...UInt16.max, using: &random),
            low: UInt64.random(in: 0...UInt64.max, using: &random))
    }

    func newFieldID() -> String {
        let v = UInt32.random(in: 0...UInt32.max, using: &random)
        let hex = String(v, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    // MARK: 1. Metadata

    /// Imports `metadata.collections`, in payload order.
    func importMetadata(_ rows: [JSONValue]) throws {
        for (i, row) in rows.enumerated() {
            guard case .object = row else { continue }
            if let m = try importMetadataRow(row, place: "metadata.collections[\(i)]") { result.metadata.append(m) }
        }
    }

    /// A JSON column of a metadata row: the value, or (a legacy `collections` table row) its JSON text parsed.
    private func jsonColumn(_ value: JSONValue?) -> JSONValue? {
        if case .string(let text)? = value, let parsed = try? JSONParser.parse(text) { return parsed }
        return value
    }

    private func loadCollections() throws -> [CollectionMetadata] {
        try TenantDatabase.load(db).collections
    }

    /// `importCollectionMetadataRow`. Returns nil when the row is blocked.
    @discardableResult
    func importMetadataRow(_ row: JSONValue, place: String) throws -> TransferResult.Metadata? {
        let name = TransferFieldShape.phpStringOrNull(row["name"]).stringValue ?? ""
        guard !name.isEmpty else {
            throw VeloError("\(path): \(place): Collection metadata import failed: missing collection name.")
        }
        let type = row["type"]?.stringValue ?? "base"
        var rawFields = jsonColumn(row["fields"])?.arrayValue ?? []
        rawFields = rawFields.map { field in
            guard case .object = field else { return field }
            var f = field
            if f["type"]?.stringValue == "timestamp" { f = TransferFieldShape.setting("type", to: .string("datetime"), in: f) }
            if let pivots = f["pivot_fields"]?.arrayValue {
                f = TransferFieldShape.setting(
                    "pivot_fields",
                    to: .array(
                        pivots.map { p in
                            p["type"]?.stringValue == "timestamp" ? TransferFieldShape.setting("type", to: .string("datetime"), in: p) : p
                        }), in: f)
            }
            return f
        }
        let hasRelation = rawFields.contains { ["relation", "relation_many"].contains($0["type"]?.stringValue ?? "") }
        let reserved = Set(TransferFieldShape.reservedNames(type))
        let filtered = rawFields.filter { f in
            guard case .object = f else { return false }
            return !reserved.contains(TransferFieldShape.phpStringOrNull(f["name"]).stringValue ?? "")
        }
        let indexesJSON = jsonColumn(row["indexes"])?.arrayValue ?? []
        let optionsJSON: JSONValue = {
            switch jsonColumn(row["options"]) {
            case .array(let a)?: return .array(a)
            case .object(let o)?: return .object(o)
            default: return .array([])
            }
        }()
        let isSystem = TransferFieldShape.phpBool(row["is_system"])
        let rules: JSONValue = {
            switch jsonColumn(row["api_rules"]) {
            case .object(let o)?: return .object(o)
            case .array(let a)?: return .array(a)
            default: return .array([])
            }
        }()
        // Veloquent's CollectionObserver refuses a collection whose api_rules name an action it does not know.
        var ruleKeys = ["list", "view", "create", "update", "delete", "manage"]
        if type == "agents" { ruleKeys.append("chat") }
        let invalidKeys = (rules.objectValue ?? []).map(\.0).filter { !ruleKeys.contains($0) }
        if !invalidKeys.isEmpty {
            block("collection", collection: name, "Invalid api rules keys: \(invalidKeys.joined(separator: ", "))")
            return nil
        }
        let oldID = TransferFieldShape.phpStringOrNull(row["id"]).stringValue ?? ""
        let collections = try loadCollections()
        var indexes: [IndexSpec] = []
        for item in indexesJSON {
            do { indexes.append(try IndexSpec(json: item)) } catch {
                block("collection", collection: name, "\(place): collection \(name): \(error)")
                return nil
            }
        }
        let warning = hasRelation ? TransferPayload.relationWarning : nil

        guard let existing = collections.first(where: { $0.name == name }) else {
            // Missing: created with Veloquent's DDL and (unless preserving) a new id.
            let id = preserveIDs && !oldID.isEmpty ? oldID : newCollectionID()
            let table = isSystem ? name : prefix + name
            guard TransferPayload.isValidTableName(table) else {
                block(
                    "collection", collection: name,
                    "\(place): collection name \(JSONWriter.string(.string(name))) cannot name a table (letters, digits and _ only)")
                return nil
            }
            if try db.scalar("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", [.text(table)])?.int64Value ?? 0 > 0 {
                block(
                    "collection", table: table, collection: name,
                    "collection \(name) is new, but the target already has a table \(table) that no collection owns (see velo schema orphans)"
                )
                return nil
            }
            let system = TransferFieldShape.systemFields(type, newID: newFieldID)
            let user = filtered.map { prepareField($0) }
            let fields = finishFields(system.leading + user + system.trailing, indexes: indexes)
            let rulesToStore = mergedRules(.array([]), type: type)
            let metadata = try CollectionMetadata(
                columns: collectionRow(
                    id: id, type: type, isSystem: isSystem, name: name, table: table,
                    description: row["description"], fields: fields, apiRules: rulesToStore,
                    indexes: indexes, options: optionsJSON), path: db.path)
            do {
                try db.savepoint("velo_collection") {
                    try db.execute(CollectionDDL.createTable(metadata, extraColumns: unknownTypeColumns(metadata)))
                    // The new table's indexes are built once its rows are in (much faster than row by row).
                    for index in metadata.indexes {
                        deferredIndexes.append((table, index.physicalName(table: table), CollectionDDL.createIndex(index, table: table)))
                    }
                    try insertCollection(metadata)
                }
            } catch let error as SQLiteError {
                block("collection", table: table, collection: name, "collection \(name) cannot be created: \(error.message)")
                return nil
            }
            apiRules.append((name, rules))
            if !oldID.isEmpty { idMapping[oldID] = id }
            touched.append(name)
            return .init(collection: name, action: "created", warning: warning)
        }

        apiRules.append((existing.name, rules))
        if !oldID.isEmpty { idMapping[oldID] = existing.id }
        if conflict == .skip {
            return .init(collection: existing.name, action: "skipped", warning: nil)
        }
        // Overwrite: the target's reserved fields, then the payload's own fields.
        let keptReserved = existing.fields.filter { reserved.contains($0.name) }.map(\.raw)
        let fields = finishFields(keptReserved + filtered.map { prepareField($0) }, indexes: indexes)
        guard try overwrite(existing, fields: fields, indexes: indexes, options: optionsJSON, description: row["description"]) else {
            return nil
        }
        if preserveIDs && !oldID.isEmpty && oldID != existing.id {
            try db.execute("UPDATE \"collections\" SET \"id\" = ? WHERE \"id\" = ?", [.text(oldID), .text(existing.id)])
            idMapping[oldID] = oldID
            idMapping[existing.id] = oldID
        }
        touched.append(existing.name)
        return .init(collection: existing.name, action: "updated", warning: warning)
    }

    /// A payload field in the stored shape, with an id when it has none.
    private func prepareField(_ field: JSONValue) -> JSONValue {
        var f = TransferFieldShape.stored(field)
        if f["id"] == nil || f["id"]?.isNull == true { f = TransferFieldShape.setting("id", to: .string(newFieldID()), in: f) }
        return f
    }

    /// Orders renumbered 0..n; `unique` derived from the indexes (true for `id` and single-column unique indexes).
    private func finishFields(_ fields: [JSONValue], indexes: [IndexSpec]) -> [JSONValue] {
        let uniqueColumns = Set(indexes.filter { $0.kind == .unique && $0.columns.count == 1 }.map { $0.columns[0] })
        return fields.enumerated().map { i, f in
            guard TransferFieldShape.typeProperties(f["type"]?.stringValue ?? "") != nil else { return f }
            let name = f["name"]?.stringValue ?? ""
            var out = TransferFieldShape.setting("order", to: .int(i), in: f)
            out = TransferFieldShape.setting("unique", to: .bool(name == "id" || uniqueColumns.contains(name)), in: out)
            return out
        }
    }

    /// The api_rules Veloquent stores: its defaults (all null) merged with the given rules.
    private func mergedRules(_ rules: JSONValue, type: String) -> JSONValue {
        var keys = ["list", "view", "create", "update", "delete", "manage"]
        if type == "agents" { keys.append("chat") }
        var pairs: [(String, JSONValue)] = keys.map { ($0, .null) }
        for (k, v) in rules.objectValue ?? [] {
            if let i = pairs.firstIndex(where: { $0.0 == k }) { pairs[i].1 = v } else { pairs.append((k, v)) }
        }
        return .object(pairs)
    }

    /// Columns for fields of types velo does not know: kept, typeless and nullable, so their values survive.
    private func unknownTypeColumns(_ c: CollectionMetadata) -> [String] {
        c.fields.filter { if case .unknown = $0.type { return !Field.isStandardColumn($0.name) } else { return false } }.map {
            SQL.quote($0.name)
        }
    }

    private func collectionRow(
        id: String, type: String, isSystem: Bool, name: String, table: String, description: JSONValue?,
        fields: [JSONValue], apiRules: JSONValue, indexes: [IndexSpec], options: JSONValue
    ) -> [(name: String, value: SQLiteValue)] {
        func json(_ v: JSONValue) -> SQLiteValue { .text(JSONWriter.string(v, escapesSlashes: true)) }
        let indexJSON = JSONValue.array(
            indexes.map { .object([("columns", .array($0.columns.map { .string($0) })), ("type", .string($0.kind.rawValue))]) })
        return [
            ("id", .text(id)), ("type", .text(type)), ("is_system", .integer(isSystem ? 1 : 0)), ("name", .text(name)),
            ("table_name", .text(table)), ("description", description?.stringValue.map { .text($0) } ?? .null),
            ("fields", json(.array(fields))), ("api_rules", json(apiRules)), ("indexes", json(indexJSON)), ("options", json(options)),
            ("schema_updated_at", .text(now)), ("created_at", .text(now)), ("updated_at", .text(now)),
        ]
    }

    private func insertCollection(_ c: CollectionMetadata) throws {
        let have = Set(try db.rows("SELECT name FROM pragma_table_info('collections')").compactMap { $0.first?.stringValue })
        let columns = c.columns.filter { have.contains($0.name) }
        try db.execute(
            "INSERT INTO \"collections\" (\(SQL.quoteList(columns.map(\.name)))) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))",
            columns.map(\.value))
    }

    /// Rewrites an existing collection's definition and its table. Returns false when blocked.
    private func overwrite(
        _ existing: CollectionMetadata, fields: [JSONValue], indexes: [IndexSpec], options: JSONValue, description: JSONValue?
    ) throws -> Bool {
        func json(_ v: JSONValue) -> SQLiteValue { .text(JSONWriter.string(v, escapesSlashes: true)) }
        let indexJSON = JSONValue.array(
            indexes.map { .object([("columns", .array($0.columns.map { .string($0) })), ("type", .string($0.kind.rawValue))]) })
        var columns = existing.columns
        func set(_ name: String, _ value: SQLiteValue) {
            if let i = columns.firstIndex(where: { $0.name == name }) { columns[i].value = value }
        }
        set("fields", json(.array(fields)))
        set("indexes", json(indexJSON))
        set("options", json(options))
        set("description", description?.stringValue.map { .text($0) } ?? .null)
        set("updated_at", .text(now))
        set("schema_updated_at", .text(now))
        let updated = try CollectionMetadata(columns: columns, path: db.path)
        let table = existing.tableName
        let schema = try SQLiteSchema.read(from: db)
        guard let current = schema.table(table) else {
            block("collection", table: table, collection: existing.name, TransferPayload.doesNotExist(table))
            return false
        }
        // Which old column feeds each new column: same field id (a rename), else same name.
        let oldByID = Dictionary(existing.fields.compactMap { f in f.id.map { ($0, f.name) } }, uniquingKeysWith: { a, _ in a })
        var source: [String: String] = [:]
        for name in ["id", "created_at", "updated_at"] where current.column(name) != nil { source[name] = name }
        for f in updated.fields where f.hasColumn && !Field.isStandardColumn(f.name) {
            if let id = f.id, let old = oldByID[id], current.column(old) != nil {
                source[f.name] = old
            } else if current.column(f.name) != nil {
                source[f.name] = f.name
            }
        }
        let fed = Set(source.values)
        var blocked = false
        for column in current.storedColumns where !fed.contains(column.name) {
            let values =
                try db.scalar("SELECT count(*) FROM \(SQL.quote(table)) WHERE \(SQL.quote(column.name)) IS NOT NULL")?.int64Value ?? 0
            if values > 0 {
                block(
                    "collection", table: table, collection: existing.name,
                    "overwriting collection \(existing.name) would drop column \(column.name) of \(table), which holds \(values) values")
                blocked = true
            }
        }
        if blocked { return false }
        let wanted = CollectionDDL.createTable(updated, named: table, extraColumns: unknownTypeColumns(updated))
        let currentDefinitions = current.storedColumns.map(CollectionDDL.columnDefinition)
        let wantedDefinitions =
            [#""id" varchar not null"#]
            + updated.fields.filter { !Field.isStandardColumn($0.name) }.compactMap(CollectionDDL.columnDefinition)
            + [#""created_at" datetime not null default CURRENT_TIMESTAMP"#, #""updated_at" datetime not null default CURRENT_TIMESTAMP"#]
            + unknownTypeColumns(updated)
        let renamed = source.contains { $0.key != $0.value }
        do {
            try db.savepoint("velo_overwrite") {
                if renamed || currentDefinitions != wantedDefinitions {
                    let others = current.indexes.filter { $0.origin == "c" && !$0.name.hasPrefix(table + "_") }.compactMap(\.sql)
                    let temporary = table + "__velo_import"
                    try db.execute(
                        wanted.replacingOccurrences(of: "create table \(SQL.quote(table))", with: "create table \(SQL.quote(temporary))"))
                    let targets = source.keys.sorted()
                    try db.execute(
                        "INSERT INTO \(SQL.quote(temporary)) (\(SQL.quoteList(targets))) SELECT \(SQL.quoteList(targets.map { source[$0]! })) FROM \(SQL.quote(table))"
                    )
                    try db.execute("DROP TABLE \(SQL.quote(table))")
                    try db.execute("ALTER TABLE \(SQL.quote(temporary)) RENAME TO \(SQL.quote(table))")
                    for sql in CollectionDDL.createIndexes(updated) { try db.execute(sql) }
                    for sql in others { try db.execute(sql) }
                } else {
                    // Same columns: sync the managed indexes only (IndexSyncService).
                    let wantedNames = Set(updated.managedIndexNames)
                    for index in current.indexes
                    where index.origin == "c" && index.name.hasPrefix(table + "_") && !wantedNames.contains(index.name) {
                        try db.execute("DROP INDEX \(SQL.quote(index.name))")
                    }
                    let have = Set(current.indexes.map(\.name))
                    for index in updated.indexes where !have.contains(index.physicalName(table: table)) {
                        try db.execute(CollectionDDL.createIndex(index, table: table))
                    }
                }
                try db.execute(
                    "UPDATE \"collections\" SET \"fields\" = ?, \"indexes\" = ?, \"options\" = ?, \"description\" = ?, \"updated_at\" = ?, \"schema_updated_at\" = ? WHERE \"id\" = ?",
                    [
                        json(.array(fields)), json(indexJSON), json(options), description?.stringValue.map { .text($0) } ?? .null,
                        .text(now), .text(now), .text(existing.id),
                    ])
            }
        } catch let error as SQLiteError {
            block("collection", table: table, collection: existing.name, "overwriting collection \(existing.name) fails: \(error.message)")
            return false
        }
        return true
    }

    // MARK: 2. Relation remap and pivot tables

    /// `updateRelationFieldsUsingMapping`, then the pivot tables of the collections this import made or changed.
    func remapRelations() throws {
        let changedIDs = idMapping.filter { $0.key != $0.value }
        if !changedIDs.isEmpty {
            for c in try loadCollections() {
                var changed = false
                let fields: [JSONValue] = c.fields.map { f in
                    guard f.type == .relation || f.type == .relationMany, let old = f.targetCollectionID, let new = changedIDs[old] else {
                        return f.raw
                    }
                    changed = true
                    return TransferFieldShape.setting("target_collection_id", to: .string(new), in: f.raw)
                }
                if changed {
                    try db.execute(
                        "UPDATE \"collections\" SET \"fields\" = ?, \"updated_at\" = ? WHERE \"id\" = ?",
                        [.text(JSONWriter.string(.array(fields), escapesSlashes: true)), .text(now), .text(c.id)])
                }
            }
        }
        let all = try loadCollections()
        let byID = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for name in touched {
            guard let c = all.first(where: { $0.name == name }) else { continue }
            for field in c.relationManyFields {
                let target = field.targetCollectionID.flatMap { byID[$0] } ?? c
                let pivot = PivotTable.name(c.name, target.name, field: field.name, prefix: prefix)
                let exists =
                    try db.scalar("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", [.text(pivot)])?.int64Value ?? 0
                if exists == 0 {
                    do {
                        let ddl = CollectionDDL.createPivot(name: pivot, pivotFields: [])
                        try db.execute(ddl[0])
                        for sql in ddl.dropFirst() { deferredIndexes.append((pivot, PivotTable.uniqueIndexName(pivot: pivot), sql)) }
                    } catch let error as SQLiteError {
                        block(
                            "collection", table: pivot, collection: c.name, "the pivot table \(pivot) cannot be created: \(error.message)")
                    }
                }
            }
        }
        layout = try TenantDatabase.load(db)
    }

    // MARK: 3-5. Records

    private var layout: TenantDatabase?
    private enum TableKind { case blocked, legacyCollections, collection(CollectionMetadata), plain }
    private var kind = TableKind.blocked
    private var system = false
    private var counts = TransferResult.Counts()
    private var columns: Set<String> = []
    private var collectionIDColumn = false
    private var statements: [String: (exists: Statement?, insert: Statement, update: Statement?)] = [:]
    /// Column shapes whose inserts bind a new ULID for the missing id (a collection's record, as Eloquent).
    private var insertsNewID: [String: Bool] = [:]
    private var lastInsertsNewID = false
    private var lastNames: [String] = []
    private var idIsPrimaryKey = false
    private var existsStatement: Statement?
    private var lastUnknownColumn: String?
    private var current: (exists: Statement?, insert: Statement, update: Statement?)?

    func beginTable(_ table: String) throws {
        if layout == nil { layout = try TenantDatabase.load(db) }
        let layout = layout!
        counts = TransferResult.Counts()
        statements = [:]
        lastNames = []
        lastUnknownColumn = nil
        current = nil
        system = false
        let allowed = TransferPayload.allowedSystemTables
        if table == "collections" {
            kind = .legacyCollections
            system = true
            return
        }
        let collection = layout.collection(forTable: table)
        if allowed.contains(table) || collection?.isSystem == true {
            system = true
            kind = collection.map { .collection($0) } ?? .plain
        } else if let collection {
            kind = .collection(collection)
        } else if isPivot(table, layout: layout) {
            kind = .plain
        } else {
            // Any other table, a framework one (`cache`, `settings`) included: Veloquent's import says the same.
            kind = .blocked
            block("table", table: table, TransferPayload.notImportable(table))
            return
        }
        guard let schema = layout.schema.table(table) else {
            kind = .blocked
            block("table", table: table, TransferPayload.doesNotExist(table))
            return
        }
        columns = Set(schema.storedColumns.map(\.name))
        idIsPrimaryKey = schema.primaryKey == ["id"]
        existsStatement = nil
        collectionIDColumn = TransferPayload.collectionIDTables.contains(table) && columns.contains("collection_id")
    }

    /// `isPivotTable`: the prefix, and the name some relation_many field's pivot has.
    private func isPivot(_ table: String, layout: TenantDatabase) -> Bool {
        guard table.hasPrefix(prefix) else { return false }
        let byID = Dictionary(layout.collections.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for c in layout.collections {
            for f in c.relationManyFields {
                guard let id = f.targetCollectionID, !id.isEmpty else { continue }
                let target = byID[id] ?? (id == "@self" ? c : nil)
                if let target, PivotTable.name(c.name, target.name, field: f.name, prefix: prefix) == table { return true }
            }
        }
        return false
    }

    func row(_ table: String, _ row: Int, _ values: [(String, JSONValue)]) throws {
        rowsRead += 1
        if rowsRead & 4095 == 0 {
            try Interruption.check()  // the transaction is rolled back on the way out
            progress?.update(rowsRead, detail: table)
        }
        switch kind {
        case .blocked: return
        case .legacyCollections:
            // A payload of an older Veloquent: each row is a `collections` row, imported as metadata.
            if let m = try importMetadataRow(.object(values), place: "records.collections row \(row)") {
                switch m.action {
                case "created": counts.inserted += 1
                case "updated": counts.updated += 1
                default: counts.skipped += 1
                }
            }
            return
        case .collection, .plain: break
        }
        func idText() -> String {
            values.first { $0.0 == "id" }.map { $0.1.stringValue ?? JSONWriter.string($0.1) } ?? "none"
        }
        // Rows of a table almost always have the same columns: the checks and statements of the last shape are
        // reused, so a row costs no hashing.
        if !(values.count == lastNames.count && zip(values, lastNames).allSatisfy({ $0.0 == $1 })) {
            let names = values.map(\.0)
            let key = names.joined(separator: "\u{1}")
            lastNames = names
            lastUnknownColumn = names.first { !columns.contains($0) }
            if lastUnknownColumn == nil && statements[key] == nil {
                let hasID = names.contains("id")
                // With `id` the primary key, an existing row is found by the insert itself (a primary-key conflict).
                let exists = hasID && !idIsPrimaryKey ? try db.prepare("SELECT 1 FROM \(SQL.quote(table)) WHERE \"id\" = ? LIMIT 1") : nil
                // A collection's record goes through Eloquent in Veloquent (`Record::of($c)->create($row)`, or
                // fill() and save()); a plain table's row through DB::table, as given. Eloquent fills a new
                // record's missing id (a lower-case ULID) and timestamps, and stamps `updated_at` on a save that
                // changes the record unless `updated_at` itself changed.
                var isCollection = false
                if case .collection = kind { isCollection = true }
                let now = "strftime('%Y-%m-%d %H:%M:%S', 'now')"
                var insertNames = names
                var insertValues = names.map { _ in "?" }
                if isCollection {
                    for stamp in ["created_at", "updated_at"] where columns.contains(stamp) && !names.contains(stamp) {
                        insertNames.append(stamp)
                        insertValues.append(now)
                    }
                    if columns.contains("id") && !hasID {
                        insertNames.append("id")
                        insertValues.append("?\(names.count + 1)")  // bound per row: a new ULID
                    }
                }
                let insert = try db.prepare(
                    "INSERT INTO \(SQL.quote(table)) (\(SQL.quoteList(insertNames))) VALUES (\(insertValues.enumerated().map { $0.element == "?" ? "?\($0.offset + 1)" : $0.element }.joined(separator: ", ")))"
                )
                insertsNewID[key] = isCollection && columns.contains("id") && !hasID
                var assignments = names.enumerated().map { "\(SQL.quote($0.element)) = ?\($0.offset + 1)" }
                if isCollection, columns.contains("updated_at") {
                    let changed = names.enumerated().filter { $0.element != "id" && $0.element != "updated_at" }
                        .map { "\(SQL.quote($0.element)) IS NOT ?\($0.offset + 1)" }
                    let dirty = changed.isEmpty ? "0" : "(" + changed.joined(separator: " OR ") + ")"
                    if let k = names.firstIndex(of: "updated_at") {
                        assignments[k] =
                            "\"updated_at\" = CASE WHEN \"updated_at\" IS NOT ?\(k + 1) THEN ?\(k + 1) WHEN \(dirty) THEN \(now) ELSE \"updated_at\" END"
                    } else {
                        assignments.append("\"updated_at\" = CASE WHEN \(dirty) THEN \(now) ELSE \"updated_at\" END")
                    }
                }
                let update =
                    hasID && names.count > 1
                    ? try db.prepare(
                        "UPDATE \(SQL.quote(table)) SET \(assignments.joined(separator: ", ")) WHERE \"id\" = ?\(names.count + 1)")
                    : nil
                statements[key] = (exists, insert, update)
            }
            current = lastUnknownColumn == nil ? statements[key] : nil
            lastInsertsNewID = insertsNewID[key] ?? false
        }
        if let column = lastUnknownColumn {
            block("rows", table: table, "table \(table) has no column \(column)", example: "row \(row) (id \(idText()))")
            return
        }
        try beforeRow?(table, row)
        var bound: [SQLiteValue] = values.map { Self.sqliteValue($0.1) }
        if collectionIDColumn, let i = values.firstIndex(where: { $0.0 == "collection_id" }), case .text(let old) = bound[i],
            let new = idMapping[old]
        {
            bound[i] = .text(new)
        }
        let names = lastNames
        let s = current!
        var existing = false
        let idIndex = names.firstIndex(of: "id")
        // Veloquent matches a collection table's row only by a non-empty string id, so the integer ids of
        // `otp_tokens` never match and a second import collides; velo matches any non-empty id.
        let eligible = idIndex.map { !bound[$0].isNull && bound[$0] != .text("") } ?? false
        if let exists = s.exists, let i = idIndex {
            let id = bound[i]
            if eligible {
                exists.reset()
                try exists.bind(id, at: 1)
                existing = try exists.step()
                exists.reset()
            }
        }
        do {
            if existing {
                if conflict == .skip { counts.skipped += 1; return }
                if let update = s.update {
                    update.reset()
                    try update.bind(bound + [bound[names.firstIndex(of: "id")!]])
                    _ = try update.step()
                    update.reset()
                }
                counts.updated += 1
            } else {
                s.insert.reset()
                try s.insert.bind(lastInsertsNewID ? bound + [.text(Self.newRecordID())] : bound)
                do {
                    _ = try s.insert.step()
                } catch let error as SQLiteError
                    where (error.extendedCode == 1555 || error.extendedCode == 2067) && idIsPrimaryKey && eligible
                {
                    // A primary-key or unique conflict (SQLite may report another unique index first): the row
                    // exists when its id is there; otherwise it collides with a different row.
                    s.insert.reset()
                    if error.extendedCode != 1555 {
                        let lookup = try existsStatement ?? db.prepare("SELECT 1 FROM \(SQL.quote(table)) WHERE \"id\" = ? LIMIT 1")
                        existsStatement = lookup
                        lookup.reset()
                        try lookup.bind(bound[idIndex!], at: 1)
                        let found = try lookup.step()
                        lookup.reset()
                        if !found { throw error }
                    }
                    if conflict == .skip { counts.skipped += 1; return }
                    if let update = s.update {
                        update.reset()
                        try update.bind(bound + [bound[idIndex!]])
                        _ = try update.step()
                        update.reset()
                    }
                    counts.updated += 1
                    return
                }
                s.insert.reset()
                counts.inserted += 1
            }
        } catch let error as SQLiteError where error.code == 19 {  // SQLITE_CONSTRAINT
            s.insert.reset(); s.update?.reset()
            let unique = error.extendedCode == 2067 || error.extendedCode == 1555
            block(
                unique ? "unique" : "rows", table: table,
                unique
                    ? "rows of \(table) collide with a different row of the target on a unique column (\(error.message))"
                    : "rows of \(table) break a constraint of the target (\(error.message))",
                example: "row \(row) (id \(idText()))")
        }
    }

    func endTable(_ table: String) throws {
        if let i = result.records.firstIndex(where: { $0.table == table }) {
            result.records[i].counts = counts
        } else {
            result.records.append((table, counts, system))
        }
        statements = [:]
        current = nil
        lastNames = []
        if case .legacyCollections = kind { layout = try TenantDatabase.load(db) }
    }

    /// A payload value as SQLite stores it: integers stay integers, booleans 0/1, objects and arrays as JSON text.
    static func sqliteValue(_ v: JSONValue) -> SQLiteValue {
        switch v {
        case .null: return .null
        case .bool(let b): return .integer(b ? 1 : 0)
        case .string(let s): return .text(s)
        case .number(let n):
            if !n.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let i = Int64(n) { return .integer(i) }
            return .real(Double(n) ?? 0)
        case .array, .object: return .text(JSONWriter.string(v))
        }
    }

    // MARK: 6. Deferred API rules, foreign keys, caches

    func finish() throws {
        for index in deferredIndexes {
            do {
                try db.execute(index.sql)
            } catch let error as SQLiteError where error.code == 19 {
                // Name some of the duplicated values: the index's column list is the last parenthesis of its DDL.
                var examples: [String] = []
                if let open = index.sql.range(of: "(", options: .backwards) {
                    let list = String(index.sql[open.upperBound...].dropLast())
                    examples = try db.rows("SELECT \(list) FROM \(SQL.quote(index.table)) GROUP BY \(list) HAVING count(*) > 1 LIMIT 5").map
                    { row in
                        row.map { $0.stringValue ?? $0.int64Value.map(String.init) ?? "null" }.joined(separator: ", ")
                    }
                }
                block(
                    "unique", table: index.table,
                    "rows of \(index.table) collide with each other on the unique index \(index.name) (\(error.message))")
                if let i = result.findings.indices.last { result.findings[i].examples = examples }
            }
        }
        for (name, rules) in apiRules {
            let empty: Bool = {
                switch rules {
                case .array(let a): return a.isEmpty;
                case .object(let o): return o.isEmpty;
                default: return true
                }
            }()
            if empty { continue }
            guard let row = try db.rows("SELECT \"type\" FROM \"collections\" WHERE \"name\" = ?", [.text(name)]).first else { continue }
            let merged = mergedRules(rules, type: row.first?.stringValue ?? "base")
            try db.execute(
                "UPDATE \"collections\" SET \"api_rules\" = ?, \"updated_at\" = ? WHERE \"name\" = ?",
                [.text(JSONWriter.string(merged, escapesSlashes: true)), .text(now), .text(name)])
        }
        let violations = try db.rows("PRAGMA foreign_key_check")
        if violations.count > baselineViolations {
            for v in violations.prefix(200) {
                let table = v.first?.stringValue ?? "?"
                block(
                    "foreign-key", table: table,
                    "rows of \(table) would point at a missing \(v.count > 2 ? v[2].stringValue ?? "?" : "?") row (a declared foreign key)",
                    example: "rowid \(v.count > 1 ? v[1].int64Value.map(String.init) ?? "?" : "?")")
            }
        }
        // Veloquent caches collection metadata forever: what it cached is stale now.
        if try db.scalar("SELECT count(*) FROM pragma_table_info('cache') WHERE name = 'key'")?.int64Value ?? 0 > 0 {
            try db.execute("DELETE FROM \"cache\" WHERE \"key\" LIKE '%velo:collection:%' OR \"key\" LIKE '%velo:table_exists:%'")
        }
    }

    /// A new record's id as Eloquent's HasUlids makes one: a lower-case ULID.
    static func newRecordID() -> String {
        ULID.string(
            milliseconds: UInt64(Date().timeIntervalSince1970 * 1000), high: UInt16.random(in: 0...UInt16.max),
            low: UInt64.random(in: 0...UInt64.max)
        ).lowercased()
    }
}
