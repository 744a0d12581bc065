import VeloFormat
import VeloRepository
import VeloStorage

/// `velo schema corrupt`: the comparison Veloquent's documentation promises and its code does not make.
/// Leftover `schema_jobs` markers (what Veloquent reports), and for every collection its physical table against
/// its metadata: table, columns, column types, nullability, managed indexes (by Veloquent's naming rule,
/// 64-character form included) and relation_many pivot tables. Read-only.
package struct SchemaHealth: Encodable, Sendable {
    package var path: String
    package var healthy: Bool
    package var findings: [SchemaFinding]
    package var collectionsChecked: Int

    package static func check(_ database: Database, layout: TenantDatabase) throws -> SchemaHealth {
        var findings = try schemaJobs(database, layout: layout)
        for collection in layout.collections {
            findings += check(collection, in: layout)
        }
        return SchemaHealth(
            path: layout.path, healthy: !findings.contains { $0.severity == .error },
            findings: findings, collectionsChecked: layout.collections.count)
    }

    /// Leftover markers of schema operations that never finished.
    static func schemaJobs(_ database: Database, layout: TenantDatabase) throws -> [SchemaFinding] {
        guard let table = layout.schema.table("schema_jobs") else { return [] }
        let has = Set(table.columns.map(\.name))
        guard has.isSuperset(of: ["collection_id", "operation", "table_name"]) else { return [] }
        let started = has.contains("started_at") ? "\"started_at\"" : "NULL"
        var findings: [SchemaFinding] = []
        try database.prepare("SELECT \"collection_id\", \"operation\", \"table_name\", \(started) FROM \"schema_jobs\" ORDER BY rowid")
            .forEachRow { row in
                let id = row.string(0)
                let name = layout.collections.first { $0.id == id }?.name
                findings.append(
                    SchemaFinding(
                        kind: "schema-job", severity: .error, collection: name, table: row.string(2), column: nil, index: nil,
                        message:
                            "a schema \(row.string(1)) of \(name.map { "collection \($0)" } ?? "collection id \(id)") on table \(row.string(2)) started\(row.optionalString(3).map { " at \($0)" } ?? "") and never finished"
                    ))
            }
        return findings
    }

    /// A column as the metadata says it should be.
    struct ExpectedColumn {
        var name: String
        var type: String?
        var notNull: Bool
        var field: Field?
    }

    /// The columns a collection's table should have, in order (`id`, fields, `created_at`, `updated_at`).
    static func expectedColumns(_ collection: CollectionMetadata) -> [ExpectedColumn] {
        var columns = [ExpectedColumn(name: "id", type: "varchar", notNull: true, field: nil)]
        for field in collection.fields where !Field.isStandardColumn(field.name) && field.hasColumn {
            columns.append(ExpectedColumn(name: field.name, type: field.type.sqliteColumnType, notNull: !field.nullable, field: field))
        }
        columns.append(ExpectedColumn(name: "created_at", type: "datetime", notNull: true, field: nil))
        columns.append(ExpectedColumn(name: "updated_at", type: "datetime", notNull: true, field: nil))
        return columns
    }

    package static func check(_ c: CollectionMetadata, in layout: TenantDatabase) -> [SchemaFinding] {
        func finding(
            _ kind: String, _ severity: SchemaFinding.Severity, table: String? = nil, column: String? = nil,
            index: String? = nil, _ message: String
        ) -> SchemaFinding {
            SchemaFinding(
                kind: kind, severity: severity, collection: c.name, table: table ?? c.tableName, column: column, index: index,
                message: message)
        }
        guard let table = layout.schema.table(c.tableName) else {
            return [finding("table-missing", .error, "collection \(c.name): table \(c.tableName) is missing")]
        }
        // System collections are made by migrations, not by the collection pipeline: only their table is checked.
        if c.isSystem { return [] }
        var findings: [SchemaFinding] = []
        let expected = expectedColumns(c)
        let physical = Dictionary(table.columns.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for column in expected {
            guard let actual = physical[column.name] else {
                findings.append(
                    finding(
                        "column-missing", .error, column: column.name,
                        "collection \(c.name): column \(column.name) of table \(c.tableName) is missing"))
                continue
            }
            if let type = column.type, actual.declaredType.lowercased() != type {
                findings.append(
                    finding(
                        "column-type", .error, column: column.name,
                        "collection \(c.name): column \(c.tableName).\(column.name) is \(actual.declaredType.isEmpty ? "untyped" : actual.declaredType), field type \(column.field?.type.name ?? "standard") maps to \(type)"
                    ))
            }
            if actual.notNull != column.notNull && actual.primaryKeyPosition == 0 {
                findings.append(
                    finding(
                        "column-nullability", .warning, column: column.name,
                        "collection \(c.name): column \(c.tableName).\(column.name) is \(actual.notNull ? "NOT NULL" : "nullable"), the metadata says \(column.notNull ? "not nullable" : "nullable") (older Veloquent made every column nullable)"
                    ))
            }
        }
        let expectedNames = Set(expected.map(\.name))
        for column in table.columns where !expectedNames.contains(column.name) {
            findings.append(
                finding(
                    "column-extra", .warning, column: column.name,
                    "collection \(c.name): column \(c.tableName).\(column.name) is not in the metadata"))
        }
        // Managed indexes: every non-primary index named `<table>_...` (Veloquent's sync rule).
        let managed = table.indexes.filter { $0.origin != "pk" && $0.name.hasPrefix(c.tableName + "_") }
        let wanted = Dictionary(c.indexes.map { ($0.physicalName(table: c.tableName), $0) }, uniquingKeysWith: { a, _ in a })
        for (name, spec) in wanted.sorted(by: { $0.key < $1.key }) {
            guard let actual = table.indexes.first(where: { $0.name == name }) else {
                findings.append(
                    finding(
                        "index-missing", .error, index: name,
                        "collection \(c.name): index \(name) on (\(spec.columns.joined(separator: ", "))) is missing"))
                continue
            }
            if actual.columns != spec.columns || actual.unique != (spec.kind == .unique) {
                findings.append(
                    finding(
                        "index-different", .error, index: name,
                        "collection \(c.name): index \(name) is \(actual.unique ? "unique " : "")on (\(actual.columns.joined(separator: ", "))), the metadata says \(spec.kind.rawValue) on (\(spec.columns.joined(separator: ", ")))"
                    ))
            }
        }
        for index in managed where wanted[index.name] == nil {
            findings.append(
                finding(
                    "index-extra", .warning, index: index.name,
                    "collection \(c.name): index \(index.name) is not in the metadata (Veloquent drops it on its next index sync)"))
        }
        let ids = Set(layout.collections.map(\.id))
        for field in c.fields where field.type == .relation || field.type == .relationMany {
            if let target = field.targetCollectionID, !ids.contains(target) {
                findings.append(
                    finding(
                        "relation-target-missing", .warning, column: field.name,
                        "collection \(c.name): field \(field.name) points at collection id \(target), which does not exist"))
            }
        }
        for pivot in layout.pivots(of: c) {
            findings += checkPivot(pivot, field: c.fields.first { $0.name == pivot.field }, collection: c, layout: layout)
        }
        return findings
    }

    static func checkPivot(_ pivot: PivotTable, field: Field?, collection c: CollectionMetadata, layout: TenantDatabase) -> [SchemaFinding]
    {
        func finding(
            _ kind: String, _ severity: SchemaFinding.Severity, column: String? = nil, index: String? = nil, _ message: String
        ) -> SchemaFinding {
            SchemaFinding(
                kind: kind, severity: severity, collection: c.name, table: pivot.name, column: column, index: index, message: message)
        }
        guard let table = layout.schema.table(pivot.name) else {
            return [finding("pivot-missing", .error, "collection \(c.name): pivot table \(pivot.name) of field \(pivot.field) is missing")]
        }
        var findings: [SchemaFinding] = []
        let columns = Set(table.columns.map(\.name))
        for required in PivotTable.standardColumns + ["created_at"] where !columns.contains(required) {
            findings.append(
                finding(
                    "pivot-malformed", .error, column: required, "collection \(c.name): pivot table \(pivot.name) has no \(required) column"
                ))
        }
        let unique = PivotTable.uniqueIndexName(pivot: pivot.name)
        if let index = table.indexes.first(where: { $0.name == unique }) {
            if !index.unique || index.columns != ["source_id", "target_id"] {
                findings.append(
                    finding(
                        "pivot-malformed", .error, index: unique,
                        "collection \(c.name): index \(unique) of pivot table \(pivot.name) is not unique on (source_id, target_id)"))
            }
        } else {
            findings.append(
                finding(
                    "pivot-malformed", .error, index: unique,
                    "collection \(c.name): pivot table \(pivot.name) has no unique index \(unique) on (source_id, target_id)"))
        }
        for extra in field?.pivotFields ?? [] where !columns.contains(extra.name) {
            findings.append(
                finding(
                    "pivot-column-missing", .warning, column: extra.name,
                    "collection \(c.name): pivot table \(pivot.name) has no column for pivot field \(extra.name)"))
        }
        return findings
    }
}
