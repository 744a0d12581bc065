/// The layout of one live Veloquent database: its collections, the tables each owns, the system tables,
/// the migrations applied, and the role of every other table. Read once, then used to plan work on it.
package struct TenantDatabase: Sendable {
    /// What kind of Veloquent database a file is.
    package enum Kind: String, Sendable, Codable {
        /// A tenant database (`collections`, no `tenants`).
        case tenant
        /// A landlord database (`tenants`, no `collections`).
        case landlord
        /// Single-tenant mode: landlord and tenant tables in one file.
        case singleTenant = "single-tenant"
    }

    package let path: String
    package let kind: Kind
    package let schema: SQLiteSchema
    /// Collections in `collections` order (by name).
    package let collections: [CollectionMetadata]
    /// Pivot tables of relation_many fields, with the name found in the file (or the expected one when missing).
    package let pivots: [PivotTable]
    /// Names of applied migrations, in `migrations.id` order.
    package let appliedMigrations: [String]
    /// The landlord's tenants, when the file has a `tenants` table.
    package let tenants: [Tenant]
    /// The collection table prefix, inferred from user collections (default `_velo_`).
    package let prefix: String

    /// The Veloquent schema version: the newest applied migration.
    package var schemaVersion: String? { Migrations.schemaVersion(applied: appliedMigrations) }

    /// Reads the layout. Throws `ModelError.notVeloquent` when the file has neither `collections` nor
    /// `tenants`, and `ModelError.badCollectionRow` for a `collections` row it cannot read.
    package static func load(_ database: Database) throws -> TenantDatabase {
        let schema = try SQLiteSchema.read(from: database)
        let hasCollections = schema.table("collections") != nil
        let hasTenants = schema.table("tenants") != nil
        guard hasCollections || hasTenants else {
            let count = schema.tableNames.filter { !$0.hasPrefix("sqlite_") }.count
            throw ModelError.notVeloquent(path: database.path, reason: "no collections table among its \(count) tables")
        }
        var collections: [CollectionMetadata] = []
        if let table = schema.table("collections") {
            let names = Set(table.columns.map(\.name))
            for required in ["id", "name", "table_name"] where !names.contains(required) {
                throw ModelError.notVeloquent(path: database.path, reason: "the collections table has no \(required) column")
            }
            let columnNames = table.storedColumns.map(\.name)
            let stmt = try database.prepare("SELECT \(SQL.quoteList(columnNames)) FROM \"collections\" ORDER BY \"name\", \"id\"")
            try stmt.forEachRow { row in
                let pairs = columnNames.enumerated().map { (name: $0.element, value: row.value(Int32($0.offset))) }
                collections.append(try CollectionMetadata(columns: pairs, path: database.path))
            }
        }
        var migrations: [String] = []
        if let table = schema.table("migrations"), table.column("migration") != nil {
            let order = table.column("id") != nil ? "\"id\"" : "rowid"
            try database.prepare("SELECT \"migration\" FROM \"migrations\" ORDER BY \(order)").forEachRow {
                migrations.append($0.string(0))
            }
        }
        let prefix = inferPrefix(collections)
        let pivots = findPivots(collections, schema: schema, prefix: prefix)
        let kind: Kind = hasCollections ? (hasTenants ? .singleTenant : .tenant) : .landlord
        return TenantDatabase(
            path: database.path, kind: kind, schema: schema, collections: collections, pivots: pivots,
            appliedMigrations: migrations, tenants: try Landlord.tenants(in: database, schema: schema), prefix: prefix)
    }

    /// The prefix shared by user collection tables (`table_name` = prefix + name at creation), else `_velo_`.
    static func inferPrefix(_ collections: [CollectionMetadata]) -> String {
        var counts: [String: Int] = [:]
        for c in collections where !c.isSystem && c.tableName.hasSuffix(c.name) && c.tableName.count > c.name.count {
            counts[String(c.tableName.dropLast(c.name.count)), default: 0] += 1
        }
        return counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key ?? CollectionMetadata.defaultPrefix
    }

    /// Each relation_many field's pivot table. Veloquent's schema code names it from collection names and its
    /// record code from table names; the two differ after a rename, so the one present in the file wins.
    static func findPivots(_ collections: [CollectionMetadata], schema: SQLiteSchema, prefix: String) -> [PivotTable] {
        findPivots(collections, prefix: prefix) { schema.table($0) != nil }
    }

    /// The same, for any source of table names (an archive's manifest, for example).
    package static func findPivots(_ collections: [CollectionMetadata], prefix: String, exists: (String) -> Bool) -> [PivotTable] {
        let byID = Dictionary(collections.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var result: [PivotTable] = []
        var seen = Set<String>()
        for source in collections {
            for field in source.relationManyFields {
                let target = field.targetCollectionID.flatMap { byID[$0] }
                let targetName = target?.name ?? source.name  // `@self` and dangling targets fall back to the source
                let targetTable = target?.tableName ?? source.tableName
                let byName = PivotTable.name(source.name, targetName, field: field.name, prefix: prefix)
                let byTable = PivotTable.name(source.tableName, targetTable, field: field.name, prefix: prefix)
                // Both names can exist after a rename: each is a pivot of this field, never an orphan.
                var names = [byName, byTable].filter(exists)
                if names.isEmpty { names = [byName] }
                for name in names where seen.insert(name).inserted {
                    result.append(PivotTable(name: name, sourceCollection: source.name, field: field.name, targetCollection: target?.name))
                }
            }
        }
        return result
    }

    /// The collection whose table is `table`.
    package func collection(forTable table: String) -> CollectionMetadata? {
        collections.first { $0.tableName == table }
    }

    /// The collection with this name or id.
    package func collection(named name: String) -> CollectionMetadata? {
        collections.first { $0.name == name } ?? collections.first { $0.id == name }
    }

    /// The pivot tables owned by a collection's relation_many fields.
    package func pivots(of collection: CollectionMetadata) -> [PivotTable] {
        pivots.filter { $0.sourceCollection == collection.name }
    }

    /// The role of any table in the file.
    package func role(of table: String) -> TableRole {
        if collections.contains(where: { $0.tableName == table }) { return .collection }
        if pivots.contains(where: { $0.name == table }) { return .pivot }
        if let role = SystemTables.role(of: table) { return role }
        if table.hasPrefix(prefix) { return .orphan }
        return .other
    }

    /// Tables present in the file, in `sqlite_schema` order, with their roles.
    package var tables: [(name: String, role: TableRole)] {
        schema.tableNames.map { ($0, role(of: $0)) }
    }
}
