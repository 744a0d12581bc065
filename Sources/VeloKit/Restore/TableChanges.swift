import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// What a restore changes in one table the target already has, decided once by the planner and carried out exactly
/// by the importer: archive columns added, the table rebuilt so that its column types follow the archive's field
/// types (as `velo schema recover` does), the archive's managed indexes created and the target's other managed ones
/// dropped. It also says what the rows then meet — the NOT NULL columns and the unique indexes in force while rows
/// are written, and the value an added column holds in the target's existing rows — so that the plan checks the
/// rows against the table the restore will write into, not the one it reads now.
struct TableChanges: Sendable {
    var addColumns: [SQLiteSchema.Column] = []
    /// Columns whose declared type the rebuild brings in line with the archive's field type (same affinity).
    var retypeColumns: [String] = []
    /// The archive's indexes the target lacks, created before the rows are written.
    var createIndexes: [SQLiteSchema.Index] = []
    var dropIndexes: [String] = []
    /// Per added column, what the target's existing rows read in it once it is added (its default).
    var substitutes: [String: RecordValue] = [:]
    /// The columns that are NOT NULL while rows are written.
    var notNull: Set<String> = []
    /// Unique indexes that exist now and are still there while rows are written.
    var existingUniques: [SQLiteSchema.Index] = []
    /// Unique indexes the restore creates (checked against the target's rows before the import creates them).
    var newUniques: [SQLiteSchema.Index] = []

    var rebuild: Bool { !retypeColumns.isEmpty }

    typealias Report = (SchemaFinding.Severity, String) -> Void

    /// Decides the changes for `t`, reporting what blocks them or what they do.
    /// - Parameters:
    ///   - replacesDefinition: the archive's definition of the owning collection replaces the target's (overwrite).
    ///   - collection: the archive's definition of the collection whose own table `t` is, if it is one.
    static func plan(
        table name: String, archive archiveTable: SQLiteSchema.Table, archiveSchema: ArchiveSchema,
        target targetTable: SQLiteSchema.Table, db: Database, strategy: RestorePlan.Strategy, replacesDefinition: Bool,
        collection: CollectionMetadata?, report: Report
    ) throws -> TableChanges {
        var changes = TableChanges()
        let targetColumns = Dictionary(targetTable.columns.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let archiveNames = Set(archiveTable.storedColumns.map(\.name))
        for column in archiveTable.storedColumns {
            guard let other = targetColumns[column.name] else {
                // ALTER TABLE ADD COLUMN takes neither a NOT NULL column without a default nor a non-constant default.
                let constantDefault = column.defaultSQL.map(isConstant) ?? true
                let addable = (!column.notNull || column.defaultSQL != nil) && constantDefault
                if strategy == .overwrite && addable {
                    changes.addColumns.append(column)
                    changes.substitutes[column.name] = try addedValue(column, db: db)
                    report(.warning, "column \(name).\(column.name) is missing in the target: it will be added")
                } else {
                    changes.substitutes[column.name] = .null  // the plan blocks; rows are still counted
                    report(
                        .error,
                        "column \(name).\(column.name) of the archive is missing in the target"
                            + (strategy == .skip
                                ? " (an overwrite adds it)"
                                : (constantDefault
                                    ? " and cannot be added without a default"
                                    : " and cannot be added with its non-constant default \(column.defaultSQL ?? "")")))
                }
                continue
            }
            if Affinity(declared: column.declaredType) != Affinity(declared: other.declaredType) {
                report(
                    .error, "column \(name).\(column.name) is \(column.declaredType) in the archive and \(other.declaredType) in the target"
                )
            }
        }
        for column in targetTable.storedColumns where !archiveNames.contains(column.name) {
            if column.notNull && column.defaultSQL == nil && column.primaryKeyPosition == 0 {
                report(.error, "column \(name).\(column.name) is NOT NULL without a default in the target and absent from the archive")
            } else {
                report(.info, "column \(name).\(column.name) exists only in the target (it keeps its default)")
            }
        }
        var notNull = Set(targetTable.columns.filter(\.notNull).map(\.name)).union(changes.addColumns.filter(\.notNull).map(\.name))
        if replacesDefinition {
            // The archive's definition replaces the target's: its managed indexes exist afterwards, the others go.
            let archived = archiveSchema.objects.filter { $0.type == "index" && $0.tableName == name && $0.sql != nil }
            let present = Set(targetTable.indexes.map(\.name))
            let archivedNames = Set(archived.map(\.name))
            changes.createIndexes = archived.filter { !present.contains($0.name) }.compactMap { object in
                archiveTable.indexes.first { $0.name == object.name }
            }
            changes.dropIndexes = targetTable.indexes.filter {
                $0.origin == "c" && $0.name.hasPrefix(name + "_") && !archivedNames.contains($0.name)
            }.map(\.name)
            for index in changes.createIndexes {
                report(.info, "index \(index.name) of the archive is missing in the target: it will be created")
            }
            for index in changes.dropIndexes { report(.info, "index \(index) is not in the archive's definition: it will be dropped") }
            if let collection, collection.tableName == name, !collection.isSystem {
                let expected = SchemaHealth.expectedColumns(collection)
                for column in expected {
                    guard let type = column.type, let actual = targetColumns[column.name], actual.declaredType.lowercased() != type,
                        Affinity(declared: actual.declaredType) == Affinity(declared: type)
                    else { continue }
                    changes.retypeColumns.append(column.name)
                    report(
                        .warning,
                        "column \(name).\(column.name) is \(actual.declaredType) in the target, and field \(column.name) of the archive's definition (\(column.field?.type.name ?? "standard")) makes it \(type): the table is rebuilt as 'velo schema recover' does, keeping every row"
                    )
                }
                if changes.rebuild {
                    // The rebuild makes the columns' nullability the definition's too; rows holding NULL where it
                    // becomes NOT NULL stop it (before any row of the archive is written).
                    let typed = Set(expected.filter { $0.field == nil || $0.type != nil }.map(\.name))
                    notNull = Set(expected.filter { $0.notNull && typed.contains($0.name) }.map(\.name))
                        .union(targetTable.columns.filter { $0.notNull && !typed.contains($0.name) }.map(\.name))
                        .union(changes.addColumns.filter { $0.notNull && !typed.contains($0.name) }.map(\.name))
                    for column in expected where column.notNull && typed.contains(column.name) && targetColumns[column.name] != nil {
                        let rows = try db.rows(
                            "SELECT \(SQL.quote("id")) FROM \(SQL.quote(name)) WHERE \(SQL.quote(column.name)) IS NULL LIMIT 6")
                        guard !rows.isEmpty else { continue }
                        let count = Int(
                            try db.scalar("SELECT count(*) FROM \(SQL.quote(name)) WHERE \(SQL.quote(column.name)) IS NULL")?.int64Value
                                ?? 0)
                        report(
                            .error,
                            "rebuilding \(name) makes column \(column.name) NOT NULL, and \(count) rows of the target hold NULL there (e.g. \(rows.prefix(5).map { "\($0.first ?? .null)" }.joined(separator: ", ")))"
                        )
                    }
                }
            }
        }
        changes.notNull = notNull
        let dropped = Set(changes.dropIndexes)
        changes.existingUniques = targetTable.indexes.filter { $0.unique && $0.origin != "pk" && !$0.partial && !dropped.contains($0.name) }
        changes.newUniques = changes.createIndexes.filter { $0.unique && !$0.partial }
        return changes
    }

    /// Whether a default is a constant, which ALTER TABLE ADD COLUMN accepts.
    static func isConstant(_ sql: String) -> Bool {
        let upper = sql.uppercased()
        return !upper.hasPrefix("(") && !["CURRENT_TIME", "CURRENT_DATE", "CURRENT_TIMESTAMP"].contains(upper)
    }

    /// What existing rows read in a column once it is added: its default, with the column's affinity applied.
    static func addedValue(_ column: SQLiteSchema.Column, db: Database) throws -> RecordValue {
        guard column.defaultSQL != nil else { return .null }
        var definition = column
        definition.notNull = false
        try db.execute("CREATE TEMP TABLE velo_added_column (\(CollectionDDL.columnDefinition(definition)))")
        defer { try? db.execute("DROP TABLE temp.velo_added_column") }
        try db.execute("INSERT INTO temp.velo_added_column DEFAULT VALUES")
        return RecordValue.from(try db.scalar("SELECT \(SQL.quote(column.name)) FROM temp.velo_added_column") ?? .null)
    }

    /// Carries the changes out, inside the importer's transaction.
    func apply(to table: String, collection: String?, db: Database) throws {
        for column in addColumns {
            try db.execute("ALTER TABLE \(SQL.quote(table)) ADD COLUMN \(CollectionDDL.columnDefinition(column))")
        }
        for index in dropIndexes { try db.execute("DROP INDEX \(SQL.quote(index))") }
        for index in createIndexes {
            guard let sql = index.sql else { continue }
            try db.executeCreate(sql)
        }
        if rebuild, let collection {
            let recovery = try SchemaRecovery(database: db, layout: try TenantDatabase.load(db), collection: collection)
            for step in try recovery.plan() {
                guard let refusal = step.refusal else {
                    try db.execute(step.sql)
                    continue
                }
                let rows = try db.rows(step.sql)
                if !rows.isEmpty {
                    throw VeloError(
                        "\(table): rebuilding the table to follow the archive's definition: \(refusal): \(rows.count) rows; nothing was changed"
                    )
                }
            }
        }
    }
}
