import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// The planner's pass over the archive's rows: per table, which rows are new, conflicting or identical; rows whose
/// unique columns collide with a different row of the target; relation values and foreign keys that would point
/// nowhere. References are resolved against the target at once and, when missing there, against the archive's
/// own ids, which are kept in a temporary SQLite file so memory stays flat.
final class RowsPass {
    let facts: RestorePlanner.ArchiveFacts
    let selection: RestorePlanner.Selection
    let layout: TenantDatabase
    let target: Database
    var plans: [String: RestorePlan.TablePlan]
    var findings: [RestorePlan.Finding] = []
    let changes: [String: TableChanges]

    /// "1 row", "3 rows": a finding's count in words.
    static func rows(_ count: Int) -> String { count == 1 ? "1 row" : "\(count) rows" }
    private var stagedUniques = 0

    /// A column whose values must exist as keys of another table.
    struct Reference {
        var column: Int
        var name: String
        /// The table the value points into, and its key column.
        var targetTable: String
        var targetColumn: String
        /// Blocker (a declared foreign key) or warning (a Veloquent relation, checked in application code).
        var severity: SchemaFinding.Severity
        var lookup: Statement?
    }

    struct TableWork {
        var classifier: RowClassifier
        /// Unique indexes in force while rows are written, with a lookup of the rows holding given values: in the
        /// target, or, for an index the restore creates, in a copy of the target's values in the staging file.
        var uniques: [(name: String, positions: [Int], lookup: Statement)]
        /// Positions of the archive's columns that are NOT NULL in the table the rows are written into.
        var notNull: [Int]
        var references: [Reference]
        var recordIDs: Bool
        var strategy: RestorePlan.Strategy
    }

    init(
        facts: RestorePlanner.ArchiveFacts, selection: RestorePlanner.Selection, layout: TenantDatabase, target: Database,
        plans: [String: RestorePlan.TablePlan], changes: [String: TableChanges]
    ) throws {
        self.changes = changes
        self.facts = facts
        self.selection = selection
        self.layout = layout
        self.target = target
        self.plans = plans
    }

    func run(snapshot: SelectedSnapshot, progress: (any ProgressObserver)?) throws {
        let stagingPath = NSTemporaryDirectory() + "velo-plan-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sqlite"
        defer { for suffix in ["", "-journal"] { unlink(stagingPath + suffix) } }
        let staging = try Database(path: stagingPath, mode: .create)
        try staging.execute(
            """
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
            CREATE TABLE ids (t TEXT, id, PRIMARY KEY (t, id)) WITHOUT ROWID;
            CREATE TABLE refs (t TEXT, c TEXT, target TEXT, v, row TEXT, severity TEXT);
            BEGIN;
            """)
        let addID = try staging.prepare("INSERT OR IGNORE INTO ids VALUES (?, ?)")
        let addRef = try staging.prepare("INSERT INTO refs VALUES (?, ?, ?, ?, ?, ?)")
        // Archive collection ids that resolve in the target: created by the restore, or matched by name (the
        // importer rewrites them to the target's ids).
        for c in facts.collections
        where layout.collection(named: c.name) != nil || selection.collections.contains(where: { $0.name == c.name }) {
            try addID.run([.text("collections"), .text(c.id)])
        }

        let idMap = RowClassifier.collectionIDMap(archive: facts.collections, target: layout)
        let selected = Set(selection.tables.map(\.name))
        let referenced = Set(try selection.tables.flatMap { try references(for: $0.name, collection: $0.collection).map(\.targetTable) })
        var work: [String: TableWork] = [:]
        for t in selection.tables {
            guard let archived = facts.header.tables.first(where: { $0.name == t.name }) else { continue }
            let strategy = plans[t.name]?.strategy ?? .skip
            let change = changes[t.name] ?? TableChanges()
            let targetTable = layout.schema.table(t.name)
            var w = TableWork(
                classifier: try RowClassifier(
                    target: target, table: archived, targetTable: targetTable, idMap: idMap,
                    substitutes: change.substitutes, archivePath: snapshot.archiveLocation),
                uniques: [], notNull: archived.columns.indices.filter { change.notNull.contains(archived.columns[$0]) },
                references: try references(for: t.name, collection: t.collection),
                recordIDs: referenced.contains(t.name), strategy: strategy)
            if let table = targetTable, !w.classifier.keyPositions.isEmpty {
                let key = table.primaryKey
                for index in change.existingUniques {
                    let positions = index.columns.compactMap { archived.columns.firstIndex(of: $0) }
                    guard positions.count == index.columns.count else { continue }
                    let condition = index.columns.enumerated().map { "\(SQL.quote($0.element)) = ?\($0.offset + 1)" }.joined(
                        separator: " AND ")
                    w.uniques.append(
                        (
                            index.name, positions,
                            try target.prepare("SELECT \(SQL.quoteList(key)) FROM \(SQL.quote(t.name)) WHERE \(condition)")
                        ))
                }
                for index in change.newUniques {
                    let positions = index.columns.compactMap { archived.columns.firstIndex(of: $0) }
                    guard positions.count == index.columns.count else { continue }
                    w.uniques.append((index.name, positions, try stageUnique(index, table: table, change: change, staging: staging)))
                }
            }
            for i in w.references.indices where layout.schema.table(w.references[i].targetTable) != nil {
                let r = w.references[i]
                w.references[i].lookup = try target.prepare(
                    "SELECT 1 FROM \(SQL.quote(r.targetTable)) WHERE \(SQL.quote(r.targetColumn)) = ?")
            }
            work[t.name] = w
        }
        var collisions: [String: (count: Int, examples: [String])] = [:]
        var nulls: [String: (count: Int, examples: [String])] = [:]
        var rowsRead = 0
        // Either the planner has just verified every byte of the archive, or this pass checks each entry against the
        // catalog's manifest and the whole file against the catalog's SHA-256 at the end.
        let reader = try SnapshotReader(
            snapshot, manifest: facts.manifest, archiveSHA256: facts.sha256,
            audited: !facts.verifyWhileReading)
        try reader.scan(tables: selected) { table, original in
            guard var plan = plans[table.name], let w = work[table.name] else { return true }
            // The same rule as the import's: ids rewritten, then the key looked up and the row compared.
            let row = try w.classifier.classify(original)
            let line = row.line
            let key = row.key
            let match = row.match
            switch match {
            case .absent: plan.insert += 1
            case .identical: plan.identical += 1
            case .different: plan.conflicting += 1
            }
            let written = match == .absent || (match == .different && w.strategy == .overwrite)
            let display = key.isEmpty ? "row \(plan.insert + plan.conflicting + plan.identical)" : RowMatcher.display(key)
            var ranges = row.ranges
            if written || (w.recordIDs && key.count != 1) {
                guard let all = RowValidator.valueRanges(in: line), all.count == table.columns.count else {
                    throw ArchiveDamage(path: snapshot.archiveLocation, entry: nil, reason: "table \(table.name): malformed row")
                }
                ranges = all
            }
            if written {
                for position in w.notNull where isNull(line, ranges[position]) {
                    let id = "\(table.name)\u{1F}\(table.columns[position])"
                    var entry = nulls[id] ?? (0, [])
                    entry.count += 1
                    if entry.examples.count < RestorePlanner.exampleLimit { entry.examples.append(display) }
                    nulls[id] = entry
                }
            }
            if written {
                for unique in w.uniques {
                    let values = try unique.positions.map { try RowsPass.value(line, ranges[$0], table.columns[$0]) }
                    if values.contains(.null) { continue }
                    unique.lookup.reset()
                    for (i, v) in values.enumerated() { try v.bind(to: unique.lookup, at: Int32(i + 1)) }
                    if try unique.lookup.step() {
                        let other = unique.lookup.row().map { RecordValue.from($0) }
                        if other != key {
                            let id = "\(table.name)\u{1F}\(unique.name)"
                            var entry = collisions[id] ?? (0, [])
                            entry.count += 1
                            if entry.examples.count < RestorePlanner.exampleLimit {
                                entry.examples.append("\(display) vs \(RowMatcher.display(other)) (\(RowMatcher.display(values)))")
                            }
                            collisions[id] = entry
                        }
                    }
                    unique.lookup.reset()
                }
                for r in w.references {
                    let v = try RowsPass.value(line, ranges[r.column], table.columns[r.column])
                    if v == .null { continue }
                    if let lookup = r.lookup {
                        lookup.reset()
                        try v.bind(to: lookup, at: 1)
                        let found = try lookup.step()
                        lookup.reset()
                        if found { continue }
                    }
                    try addRef.run([
                        .text(table.name), .text(r.name), .text(r.targetTable), v.sqliteValue, .text(display), .text(r.severity.rawValue),
                    ])
                }
            }
            // Only rows the target lacks can satisfy a reference the target cannot: only their ids are kept.
            if w.recordIDs && match != .absent {
            } else if w.recordIDs, key.count == 1 {
                try addID.run([.text(table.name), key[0].sqliteValue])
            } else if w.recordIDs, let position = table.columns.firstIndex(of: "id") {
                try addID.run([.text(table.name), try RowsPass.value(line, ranges[position], "id").sqliteValue])
            }
            plans[table.name] = plan
            rowsRead += 1
            if rowsRead & 8191 == 0 { try Interruption.check(); progress?.update(rowsRead, detail: "planning \(table.name)") }
            return true
        }
        progress?.finish()
        for (name, plan) in plans where layout.schema.table(name) != nil {
            let count = Int(try target.scalar("SELECT count(*) FROM \(SQL.quote(name))")?.int64Value ?? 0)
            plans[name]?.onlyInTarget = max(0, count - plan.conflicting - plan.identical)
        }
        for (id, entry) in nulls.sorted(by: { $0.key < $1.key }) {
            let parts = id.split(separator: "\u{1F}").map(String.init)
            findings.append(
                .init(
                    severity: .error, check: "not-null", collection: layout.collection(forTable: parts[0])?.name, table: parts[0],
                    message:
                        "\(Self.rows(entry.count)) of \(parts[0]) would write NULL into column \(parts[1]), which is NOT NULL in the target",
                    count: entry.count, examples: entry.examples))
        }
        for (id, entry) in collisions.sorted(by: { $0.key < $1.key }) {
            let parts = id.split(separator: "\u{1F}").map(String.init)
            findings.append(
                .init(
                    severity: .error, check: "unique", collection: layout.collection(forTable: parts[0])?.name, table: parts[0],
                    message:
                        "\(Self.rows(entry.count)) of \(parts[0]) would collide with a different row of the target on unique index \(parts[1])",
                    count: entry.count, examples: entry.examples))
        }
        try staging.execute("COMMIT")
        try staging.prepare(
            """
            SELECT t, c, target, severity, count(*), group_concat(row, '|') FROM (
                SELECT * FROM refs WHERE NOT EXISTS (SELECT 1 FROM ids WHERE ids.t = refs.target AND ids.id = refs.v)
            ) GROUP BY t, c, target, severity ORDER BY t, c
            """
        ).forEachRow { row in
            let severity: SchemaFinding.Severity = row.string(3) == "error" ? .error : .warning
            let examples = Array(row.string(5).split(separator: "|").prefix(RestorePlanner.exampleLimit).map(String.init))
            findings.append(
                .init(
                    severity: severity, check: severity == .error ? "foreign-key" : "relation",
                    collection: layout.collection(forTable: row.string(0))?.name,
                    table: row.string(0),
                    message:
                        "\(Self.rows(row.int(4))) of \(row.string(0)) \(row.int(4) == 1 ? "points" : "point") with \(row.string(1)) at rows of \(row.string(2)) that are in neither the archive nor the target",
                    count: row.int(4), examples: examples))
        }
        for (name, plan) in plans.sorted(by: { $0.key < $1.key }) {
            let verb = plan.strategy == .overwrite ? "overwritten" : "skipped"
            findings.append(
                .init(
                    severity: .info, check: "rows", collection: plan.collection, table: name,
                    message:
                        "\(name): \(plan.insert) to insert, \(plan.conflicting) conflicting (\(verb)), \(plan.identical) identical, \(plan.onlyInTarget) only in the target",
                    count: nil, examples: []))
        }
    }

    /// Whether a row's value is JSON `null`.
    func isNull(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        range.count == 4 && line[range.lowerBound] == UInt8(ascii: "n")
    }

    /// Copies the target's values of a unique index the restore creates into the staging file, reports rows of the
    /// target that already share values (creating the index fails on them), and returns the lookup by values.
    func stageUnique(_ index: SQLiteSchema.Index, table: SQLiteSchema.Table, change: TableChanges, staging: Database) throws -> Statement {
        let key = table.primaryKey
        let name = "u\(stagedUniques)"
        stagedUniques += 1
        let keyColumns = key.indices.map { "k\($0)" }
        let valueColumns = index.columns.indices.map { "v\($0)" }
        try staging.execute(
            "CREATE TABLE \(name) (\((keyColumns + valueColumns).joined(separator: ", "))); CREATE INDEX \(name)_v ON \(name) (\(valueColumns.joined(separator: ", ")))"
        )
        let insert = try staging.prepare(
            "INSERT INTO \(name) VALUES (\((keyColumns + valueColumns).indices.map { "?\($0 + 1)" }.joined(separator: ", ")))")
        // Columns the restore adds hold their default in the target's rows.
        let selected =
            key.map(SQL.quote)
            + index.columns.map { column in
                table.column(column) != nil ? SQL.quote(column) : "NULL"
            }
        let added = index.columns.map { table.column($0) == nil ? change.substitutes[$0] : nil }
        try target.prepare("SELECT \(selected.joined(separator: ", ")) FROM \(SQL.quote(table.name))").forEachRow { row in
            var values = row.row().map { RecordValue.from($0) }
            for (i, value) in added.enumerated() { if let value { values[key.count + i] = value } }
            insert.reset()
            for (i, value) in values.enumerated() { try value.bind(to: insert, at: Int32(i + 1)) }
            try insert.step()
        }
        let notNull = valueColumns.map { "\($0) IS NOT NULL" }.joined(separator: " AND ")
        var duplicates = 0
        var examples: [String] = []
        try staging.prepare(
            "SELECT count(*), group_concat(\(keyColumns.count == 1 ? "k0" : "k0 || ',' || " + keyColumns.dropFirst().joined(separator: " || ',' || ")), ' and ') FROM \(name) WHERE \(notNull) GROUP BY \(valueColumns.joined(separator: ", ")) HAVING count(*) > 1"
        ).forEachRow { row in
            duplicates += row.int(0)
            if examples.count < RestorePlanner.exampleLimit { examples.append(row.string(1)) }
        }
        if duplicates > 0 {
            findings.append(
                .init(
                    severity: .error, check: "unique", collection: layout.collection(forTable: table.name)?.name, table: table.name,
                    message:
                        "the restore creates the archive's unique index \(index.name), and \(duplicates) rows of \(table.name) in the target share values on (\(index.columns.joined(separator: ", ")))",
                    count: duplicates, examples: examples))
        }
        return try staging.prepare(
            "SELECT \(keyColumns.joined(separator: ", ")) FROM \(name) WHERE \(valueColumns.enumerated().map { "\($0.element) = ?\($0.offset + 1)" }.joined(separator: " AND "))"
        )
    }

    /// One value of a row, by its byte range. Plain strings and integers (every id) are read without the parser.
    static func value(_ line: UnsafeRawBufferPointer, _ range: Range<Int>, _ column: String) throws -> RecordValue {
        let bytes = UnsafeRawBufferPointer(rebasing: line[range])
        if bytes.count >= 2, bytes.first == UInt8(ascii: "\""), bytes.last == UInt8(ascii: "\""),
            !bytes.contains(UInt8(ascii: "\\"))
        {
            return .text(Array(bytes.dropFirst().dropLast()))
        }
        if !bytes.isEmpty, bytes.count < 19, bytes.allSatisfy({ $0.isDigit || $0 == UInt8(ascii: "-") }),
            let i = Int64(String(decoding: bytes, as: UTF8.self))
        {
            return .integer(i)
        }
        return try RecordDecoder.value(try JSONParser.parse(bytes), column: column)
    }

    /// The columns of a table that point at other tables: Veloquent relations (warnings), pivot links, and
    /// foreign keys the target declares (blockers).
    func references(for table: String, collection: String?) throws -> [Reference] {
        guard let archived = facts.header.tables.first(where: { $0.name == table }) else { return [] }
        var result: [Reference] = []
        let archiveByID = Dictionary(facts.collections.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        func tableOf(_ targetID: String?) -> String? {
            guard let name = targetID.flatMap({ archiveByID[$0]?.name }) else { return nil }
            return layout.collection(named: name)?.tableName ?? archiveByID[targetID!]?.tableName
        }
        if let owner = facts.collections.first(where: { $0.tableName == table }) {
            for field in owner.fields where field.type == .relation {
                if let position = archived.columns.firstIndex(of: field.name), let target = tableOf(field.targetCollectionID) {
                    result.append(
                        Reference(column: position, name: field.name, targetTable: target, targetColumn: "id", severity: .warning))
                }
            }
        }
        if let pivot = TenantDatabase.findPivots(
            facts.collections, prefix: facts.header.source.prefix, exists: { name in facts.header.tables.contains { $0.name == name } }
        ).first(where: { $0.name == table }),
            let owner = facts.collections.first(where: { $0.name == pivot.sourceCollection })
        {
            let field = owner.fields.first { $0.name == pivot.field }
            if let s = archived.columns.firstIndex(of: "source_id") {
                result.append(
                    Reference(
                        column: s, name: "source_id", targetTable: layout.collection(named: owner.name)?.tableName ?? owner.tableName,
                        targetColumn: "id", severity: .warning))
            }
            if let t = archived.columns.firstIndex(of: "target_id"), let target = tableOf(field?.targetCollectionID) {
                result.append(Reference(column: t, name: "target_id", targetTable: target, targetColumn: "id", severity: .warning))
            }
        }
        if layout.schema.table(table) != nil {
            try target.prepare("SELECT \"from\", \"table\", \"to\" FROM pragma_foreign_key_list(?)").forEachRow([.text(table)]) { row in
                if let position = archived.columns.firstIndex(of: row.string(0)) {
                    result.append(
                        Reference(
                            column: position, name: row.string(0), targetTable: row.string(1),
                            targetColumn: row.optionalString(2) ?? "id", severity: .error))
                }
            }
        }
        return result
    }
}

extension RecordValue {
    /// The archive form of an SQLite value.
    static func from(_ value: SQLiteValue) -> RecordValue {
        switch value {
        case .null: return .null
        case .integer(let i): return .integer(i)
        case .real(let d): return .real(d)
        case .text(let s): return .text(Array(s.utf8))
        case .blob(let b): return .blob(b)
        }
    }
}
