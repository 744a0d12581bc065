import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// What a person wants to know about a Veloquent database before backing it up (`velo info`).
package struct DatabaseInfo: Codable, Sendable {
    package struct CollectionInfo: Codable, Sendable {
        package var name: String
        package var id: String
        package var type: String
        package var system: Bool
        package var table: String
        /// Rows in the table; nil when the table is missing.
        package var rows: Int?
        package var fields: Int
        /// Names of the collections its relation and relation_many fields point at.
        package var relationTargets: [String]
        package var pivots: [PivotInfo]
    }

    package struct PivotInfo: Codable, Sendable {
        package var table: String
        package var field: String
        package var target: String?
        /// Rows in the pivot table; nil when the table is missing.
        package var rows: Int?
    }

    package struct TableInfo: Codable, Sendable {
        package var name: String
        package var role: TableRole
        package var rows: Int
    }

    package var path: String
    package var kind: TenantDatabase.Kind
    package var fileBytes: Int64
    package var sqliteVersion: String
    package var journalMode: String
    package var pageSize: Int
    package var pageCount: Int
    /// The newest applied migration.
    package var schemaVersion: String?
    package var migrationsApplied: Int
    /// Applied migrations velo does not know (a newer Veloquent).
    package var unknownMigrations: [String]
    /// Known migrations not applied (an older Veloquent).
    package var missingMigrations: [String]
    package var collectionPrefix: String
    package var collections: [CollectionInfo]
    package var systemTables: [TableInfo]
    /// Framework tables, orphans and tables that are not Veloquent's.
    package var otherTables: [TableInfo]
    package var tenants: [Tenant]

    /// Gathers the facts from an open database (read-only is enough).
    package static func gather(from database: Database, layout: TenantDatabase) throws -> DatabaseInfo {
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
            collections.append(
                CollectionInfo(
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
