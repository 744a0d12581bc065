import Foundation

/// What a person wants to know about a Veloquent database before backing it up (`velo info`).
public struct DatabaseInfo: Codable, Sendable {
    public struct CollectionInfo: Codable, Sendable {
        public var name: String
        public var id: String
        public var type: String
        public var system: Bool
        public var table: String
        /// Rows in the table; nil when the table is missing.
        public var rows: Int?
        public var fields: Int
        /// Names of the collections its relation and relation_many fields point at.
        public var relationTargets: [String]
        public var pivots: [PivotInfo]
    }

    public struct PivotInfo: Codable, Sendable {
        public var table: String
        public var field: String
        public var target: String?
        /// Rows in the pivot table; nil when the table is missing.
        public var rows: Int?
    }

    public struct TableInfo: Codable, Sendable {
        public var name: String
        public var role: TableRole
        public var rows: Int
    }

    public var path: String
    public var kind: TenantDatabase.Kind
    public var fileBytes: Int64
    public var sqliteVersion: String
    public var journalMode: String
    public var pageSize: Int
    public var pageCount: Int
    /// The newest applied migration.
    public var schemaVersion: String?
    public var migrationsApplied: Int
    /// Applied migrations velo does not know (a newer Veloquent).
    public var unknownMigrations: [String]
    /// Known migrations not applied (an older Veloquent).
    public var missingMigrations: [String]
    public var collectionPrefix: String
    public var collections: [CollectionInfo]
    public var systemTables: [TableInfo]
    /// Framework tables, orphans and tables that are not Veloquent's.
    public var otherTables: [TableInfo]
    public var tenants: [Tenant]

    /// Gathers the facts from an open database (read-only is enough).
    public static func gather(from database: Database, layout: TenantDatabase) throws -> DatabaseInfo {
        func count(_ table: String) throws -> Int? {
            guard layout.schema.table(table) != nil else { return nil }
            return Int(try database.scalar("SELECT count(*) FROM \(SQL.quote(table))")?.int64Value ?? 0)
        }
        let byID = Dictionary(layout.collections.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        var collections: [CollectionInfo] = []
        for c in layout.collections {
            let targets = c.fields.filter { $0.type == .relation || $0.type == .relationMany }
                .compactMap { f in f.targetCollectionID.map { byID[$0] ?? $0 } }
            var pivots: [PivotInfo] = []
            for p in layout.pivots(of: c) {
                pivots.append(PivotInfo(table: p.name, field: p.field, target: p.targetCollection, rows: try count(p.name)))
            }
            collections.append(CollectionInfo(
                name: c.name, id: c.id, type: c.type.name, system: c.isSystem, table: c.tableName,
                rows: try count(c.tableName), fields: c.fields.count,
                relationTargets: Array(Set(targets)).sorted(), pivots: pivots))
        }
        var system: [TableInfo] = []
        var other: [TableInfo] = []
        for (name, role) in layout.tables {
            switch role {
            case .collection, .pivot, .sqliteInternal: continue
            case .metadata, .system, .landlord:
                system.append(TableInfo(name: name, role: role, rows: try count(name) ?? 0))
            default:
                other.append(TableInfo(name: name, role: role, rows: try count(name) ?? 0))
            }
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: database.path)
        let applied = layout.appliedMigrations
        return DatabaseInfo(
            path: database.path,
            kind: layout.kind,
            fileBytes: (attributes?[.size] as? NSNumber)?.int64Value ?? 0,
            sqliteVersion: Database.libraryVersion,
            journalMode: try database.pragma("journal_mode")?.stringValue ?? "unknown",
            pageSize: Int(try database.pragma("page_size")?.int64Value ?? 0),
            pageCount: Int(try database.pragma("page_count")?.int64Value ?? 0),
            schemaVersion: layout.schemaVersion,
            migrationsApplied: applied.count,
            unknownMigrations: applied.filter { !Migrations.isKnown($0) },
            missingMigrations: layout.kind == .landlord ? [] : Migrations.missing(from: applied),
            collectionPrefix: layout.prefix,
            collections: collections,
            systemTables: system,
            otherTables: other,
            tenants: layout.tenants)
    }
}
