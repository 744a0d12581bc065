/// The DDL Veloquent runs for a collection (`SchemaDDLService`, `IndexSyncService`), spelled the way Laravel's
/// SQLite grammar spells it, so tables velo creates match the ones Veloquent creates.
package enum CollectionDDL {
    /// A field's column definition, e.g. `"published" tinyint(1) not null default '0'`; nil for relation_many
    /// and for types velo does not know.
    package static func columnDefinition(_ field: Field) -> String? {
        guard let type = field.type.sqliteColumnType else { return nil }
        var sql = "\(SQL.quote(field.name)) \(type)"
        if !field.nullable { sql += " not null" }
        if let literal = field.sqlDefaultLiteral { sql += " default \(literal)" }
        return sql
    }

    /// `create table` for a collection: `id`, the user columns in field order, `created_at`, `updated_at`.
    /// `extraColumns` (definitions of columns the metadata does not know) are kept after them.
    package static func createTable(_ collection: CollectionMetadata, named name: String? = nil, extraColumns: [String] = []) -> String {
        var columns = ["\"id\" varchar not null"]
        for field in collection.fields where !Field.isStandardColumn(field.name) {
            if let definition = columnDefinition(field) { columns.append(definition) }
        }
        columns.append("\"created_at\" datetime not null default CURRENT_TIMESTAMP")
        columns.append("\"updated_at\" datetime not null default CURRENT_TIMESTAMP")
        columns += extraColumns
        columns.append("primary key (\"id\")")
        return "create table \(SQL.quote(name ?? collection.tableName)) (\(columns.joined(separator: ", ")))"
    }

    /// The definition of an existing column, as SQLite reports it, to carry it over unchanged.
    package static func columnDefinition(_ column: SQLiteSchema.Column) -> String {
        var sql = SQL.quote(column.name)
        if !column.declaredType.isEmpty { sql += " " + column.declaredType }
        if column.notNull { sql += " not null" }
        if let value = column.defaultSQL { sql += " default " + value }
        return sql
    }

    /// `create [unique] index` for one collection index.
    package static func createIndex(_ index: IndexSpec, table: String) -> String {
        let unique = index.kind == .unique ? "unique " : ""
        return
            "create \(unique)index \(SQL.quote(index.physicalName(table: table))) on \(SQL.quote(table)) (\(SQL.quoteList(index.columns)))"
    }

    /// Every managed index of a collection.
    package static func createIndexes(_ collection: CollectionMetadata) -> [String] {
        collection.indexes.map { createIndex($0, table: collection.tableName) }
    }

    /// `create table` plus the unique index of a pivot table, with one nullable column per pivot field.
    package static func createPivot(name: String, pivotFields: [Field] = []) -> [String] {
        var columns = ["\"id\" varchar not null", "\"source_id\" varchar not null", "\"target_id\" varchar not null"]
        for field in pivotFields where !PivotTable.standardColumns.contains(field.name) && field.name != "created_at" {
            columns.append("\(SQL.quote(field.name)) \(field.type.pivotColumnType)")
        }
        columns.append("\"created_at\" datetime not null default CURRENT_TIMESTAMP")
        columns.append("primary key (\"id\")")
        return [
            "create table \(SQL.quote(name)) (\(columns.joined(separator: ", ")))",
            "create unique index \(SQL.quote(PivotTable.uniqueIndexName(pivot: name))) on \(SQL.quote(name)) (\"source_id\", \"target_id\")",
        ]
    }
}
