import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo schema recover`: brings one collection's table back in line with its metadata without losing a row.
/// What is missing is created (table, columns, indexes, pivot tables); types and nullability are fixed by
/// SQLite's create-copy-swap rebuild, copying every row with its rowid and refusing (naming the rows) when a value
/// would not survive the conversion or a NULL would meet a NOT NULL column. Columns the metadata does not know
/// are kept. Then the `schema_jobs` marker and Veloquent's cached metadata are removed. One transaction.
package struct SchemaRecovery {
    /// One step: SQL to run, or a query that must return no rows (its rows are the reason to refuse).
    package struct Step: Encodable, Sendable {
        package var sql: String
        /// When set, `sql` is a check: any row it returns makes the recovery stop, with this reason.
        package var refusal: String?
    }

    package struct Result: Encodable, Sendable {
        package var collection: String
        package var table: String
        package var dryRun: Bool
        package var snapshot: String?
        package var steps: [Step]
        package var fixed: [String]
        package var rowsBefore: Int?
        package var rowsAfter: Int?
        package var remaining: [SchemaFinding]
    }

    let database: Database
    let layout: TenantDatabase
    let collection: CollectionMetadata
    let findings: [SchemaFinding]

    package init(database: Database, layout: TenantDatabase, collection name: String) throws {
        guard let collection = layout.collection(named: name) else {
            throw VeloError(
                "\(layout.path): no collection named '\(name)'; it has \(layout.collections.map(\.name).joined(separator: ", "))")
        }
        guard !collection.isSystem else {
            throw VeloError(
                "\(layout.path): \(collection.name) is a system collection; its table is made by Veloquent's migrations, not by its metadata"
            )
        }
        self.database = database
        self.layout = layout
        self.collection = collection
        findings =
            try SchemaHealth.schemaJobs(database, layout: layout).filter { $0.collection == collection.name }
            + SchemaHealth.check(collection, in: layout)
    }

    /// The steps, in order, that the recovery runs.
    package func plan() throws -> [Step] {
        let c = collection
        let table = c.tableName
        var steps: [Step] = []
        func run(_ sql: String) { steps.append(Step(sql: sql, refusal: nil)) }
        if let physical = layout.schema.table(table) {
            let expected = SchemaHealth.expectedColumns(c)
            let present = Dictionary(physical.columns.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let kinds = Set(findings.map(\.kind))
            // ADD COLUMN cannot add a NOT NULL column without a constant default, nor CURRENT_TIMESTAMP defaults.
            let missing = expected.filter { present[$0.name] == nil }
            let addable = missing.allSatisfy { column in
                guard let field = column.field else { return false }
                return !column.notNull || field.sqlDefaultLiteral != nil
            }
            let rebuild = kinds.contains("column-type") || kinds.contains("column-nullability") || !addable
            if rebuild {
                let temporary = table + "__velo_recover"
                // Columns the metadata does not know, or whose field type velo does not know, keep their definition.
                let typed = Set(expected.filter { $0.field == nil || $0.type != nil }.map(\.name))
                let extras = physical.storedColumns.filter { !typed.contains($0.name) }
                run(CollectionDDL.createTable(c, named: temporary, extraColumns: extras.map { CollectionDDL.columnDefinition($0) }))
                // A NOT NULL column without a default cannot take the rows that hold NULL (or lack the column).
                // A default applies only to rows that lack the column: copied NULLs stay NULL and would fail.
                for column in expected where column.notNull && typed.contains(column.name) {
                    let hasDefault = column.field?.sqlDefaultLiteral != nil || column.name == "created_at" || column.name == "updated_at"
                    if present[column.name] != nil {
                        steps.append(
                            Step(
                                sql: "SELECT \(SQL.quote("id")) FROM \(SQL.quote(table)) WHERE \(SQL.quote(column.name)) IS NULL",
                                refusal: "column \(column.name) becomes NOT NULL without a default, and these rows hold NULL"))
                    } else if !hasDefault {
                        steps.append(
                            Step(
                                sql: "SELECT \(SQL.quote("id")) FROM \(SQL.quote(table))",
                                refusal: "column \(column.name) is added NOT NULL without a default, and the table has rows"))
                    }
                }
                let copied = (expected.map(\.name).filter(typed.contains) + extras.map(\.name)).filter { present[$0] != nil }
                let list = SQL.quoteList(copied)
                run("INSERT INTO \(SQL.quote(temporary)) (rowid, \(list)) SELECT rowid, \(list) FROM \(SQL.quote(table))")
                // Every copied value must come back as it was (integers and reals may trade places losslessly).
                let changed = expected.filter { column in
                    guard let old = present[column.name], let type = column.type else { return false }
                    return old.declaredType.lowercased() != type
                }
                for column in changed {
                    let name = SQL.quote(column.name)
                    steps.append(
                        Step(
                            sql:
                                "SELECT o.\(SQL.quote("id")) FROM \(SQL.quote(table)) o JOIN \(SQL.quote(temporary)) n ON n.rowid = o.rowid WHERE NOT (o.\(name) IS n.\(name) AND (typeof(o.\(name)) = typeof(n.\(name)) OR (typeof(o.\(name)) IN ('integer', 'real') AND typeof(n.\(name)) IN ('integer', 'real'))))",
                            refusal:
                                "converting column \(column.name) from \(present[column.name]!.declaredType) to \(column.type!) would change these rows' values"
                        ))
                }
                run("DROP TABLE \(SQL.quote(table))")
                run("ALTER TABLE \(SQL.quote(temporary)) RENAME TO \(SQL.quote(table))")
                for sql in CollectionDDL.createIndexes(c) { run(sql) }
                // Indexes and triggers that are not Veloquent's are kept.
                let managed = Set(c.managedIndexNames)
                for object in layout.schema.objects where object.tableName == table && object.type != "table" {
                    guard let sql = object.sql, !managed.contains(object.name),
                        !(object.type == "index" && object.name.hasPrefix(table + "_"))
                    else { continue }
                    run(sql)
                }
            } else {
                for column in missing {
                    if let field = column.field, let definition = CollectionDDL.columnDefinition(field) {
                        run("ALTER TABLE \(SQL.quote(table)) ADD COLUMN \(definition)")
                    }
                }
                for finding in findings where ["index-missing", "index-different", "index-extra"].contains(finding.kind) {
                    guard let name = finding.index else { continue }
                    if finding.kind != "index-missing" { run("DROP INDEX \(SQL.quote(name))") }
                    if finding.kind != "index-extra", let spec = c.indexes.first(where: { $0.physicalName(table: table) == name }) {
                        run(CollectionDDL.createIndex(spec, table: table))
                    }
                }
            }
        } else {
            run(CollectionDDL.createTable(c))
            for sql in CollectionDDL.createIndexes(c) { run(sql) }
        }
        for pivot in layout.pivots(of: c) {
            let field = c.fields.first { $0.name == pivot.field }
            guard let physical = layout.schema.table(pivot.name) else {
                for sql in CollectionDDL.createPivot(name: pivot.name, pivotFields: field?.pivotFields ?? []) { run(sql) }
                continue
            }
            let columns = Set(physical.columns.map(\.name))
            let missingStandard = (PivotTable.standardColumns + ["created_at"]).filter { !columns.contains($0) }
            if !missingStandard.isEmpty {
                throw VeloError(
                    "\(layout.path): pivot table \(pivot.name) has no \(missingStandard.joined(separator: ", ")) column; it cannot be repaired without guessing its links"
                )
            }
            for extra in field?.pivotFields ?? [] where !columns.contains(extra.name) {
                run("ALTER TABLE \(SQL.quote(pivot.name)) ADD COLUMN \(SQL.quote(extra.name)) \(extra.type.pivotColumnType)")
            }
            let unique = PivotTable.uniqueIndexName(pivot: pivot.name)
            let index = physical.indexes.first { $0.name == unique }
            if index == nil || index?.unique != true || index?.columns != ["source_id", "target_id"] {
                steps.append(
                    Step(
                        sql: "SELECT min(\"id\") FROM \(SQL.quote(pivot.name)) GROUP BY \"source_id\", \"target_id\" HAVING count(*) > 1",
                        refusal: "pivot table \(pivot.name) links the same records more than once, so its unique index cannot be made"))
                if index != nil { run("DROP INDEX \(SQL.quote(unique))") }
                run(CollectionDDL.createPivot(name: pivot.name)[1])
            }
        }
        if layout.schema.table("schema_jobs") != nil {
            run("DELETE FROM \"schema_jobs\" WHERE \"collection_id\" = \(SQL.literal(c.id))")
        }
        if let cache = layout.schema.table("cache"), cache.column("key") != nil {
            run("DELETE FROM \"cache\" WHERE \"key\" LIKE '%velo:collection:%' OR \"key\" LIKE '%velo:table_exists:%'")
        }
        return steps
    }

    /// Runs the plan in one transaction (foreign keys off during the swap, checked before commit); with
    /// `dryRun`, everything runs and is checked, then rolled back. Throws, with the database unchanged, when a
    /// check refuses.
    package func run(dryRun: Bool, snapshot: String?) throws -> Result {
        let steps = try plan()
        let rowsBefore =
            layout.schema.table(collection.tableName) != nil
            ? Int(try database.scalar("SELECT count(*) FROM \(SQL.quote(collection.tableName))")?.int64Value ?? 0) : nil
        let foreignKeys = try database.pragma("foreign_keys")?.int64Value ?? 0
        try database.execute("PRAGMA foreign_keys = OFF")
        defer { try? database.execute("PRAGMA foreign_keys = \(foreignKeys)") }
        struct DryRun: Error {}
        var rowsAfter: Int?
        do {
            try database.transaction(.immediate) {
                // The plan was made before the write lock: make it again under the lock and stop if it moved.
                let fresh = try SchemaRecovery(database: database, layout: try TenantDatabase.load(database), collection: collection.name)
                    .plan()
                if fresh.map(\.sql) != steps.map(\.sql) {
                    throw VeloError(
                        "\(layout.path): collection \(collection.name) changed while the recovery was being planned; nothing was changed, run it again"
                    )
                }
                for step in steps {
                    guard let refusal = step.refusal else {
                        try database.execute(step.sql)
                        continue
                    }
                    let rows = try database.rows(step.sql)
                    if !rows.isEmpty {
                        let ids = rows.prefix(5).map { $0.first.map { "\($0.stringValue ?? String(describing: $0))" } ?? "?" }
                        throw VeloError(
                            "\(layout.path): collection \(collection.name): \(refusal): \(rows.count) rows (\(ids.joined(separator: ", "))\(rows.count > 5 ? ", ..." : "")); nothing was changed"
                        )
                    }
                }
                let violations = try database.rows("PRAGMA foreign_key_check")
                if !violations.isEmpty {
                    throw VeloError(
                        "\(layout.path): the recovery would break \(violations.count) foreign keys (table \(violations[0][0].stringValue ?? "?")); nothing was changed"
                    )
                }
                rowsAfter = Int(try database.scalar("SELECT count(*) FROM \(SQL.quote(collection.tableName))")?.int64Value ?? 0)
                if let before = rowsBefore, before != rowsAfter {
                    throw VeloError(
                        "\(layout.path): collection \(collection.name): \(before) rows before and \(rowsAfter ?? 0) after; nothing was changed"
                    )
                }
                if dryRun { throw DryRun() }
            }
        } catch is DryRun {}
        var remaining: [SchemaFinding] = []
        if !dryRun {
            let after = try TenantDatabase.load(database)
            if let c = after.collection(named: collection.name) {
                remaining =
                    try SchemaHealth.schemaJobs(database, layout: after).filter { $0.collection == c.name }
                    + SchemaHealth.check(c, in: after)
            }
        }
        return Result(
            collection: collection.name, table: collection.tableName, dryRun: dryRun, snapshot: snapshot, steps: steps,
            fixed: findings.map(\.message), rowsBefore: rowsBefore, rowsAfter: rowsAfter, remaining: remaining)
    }
}
