import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo schema orphans`: tables with the collection prefix that no collection owns. Unlike Veloquent's own
/// check, the pivot tables of existing relation_many fields are not orphans. Dropping one first snapshots its
/// DDL and rows into a repository (the archive format carries tables no collection owns), then drops it in one
/// transaction.
package enum OrphanTables {
    package struct Orphan: Encodable, Sendable, Equatable {
        package var table: String
        package var rows: Int
        package var sql: String?
    }

    package struct Dropped: Encodable, Sendable {
        package var dropped: [String]
        package var snapshot: String
        package var archive: String
    }

    /// The orphans of a database, by name (as Veloquent lists them: Laravel's table listing is sorted by name).
    package static func list(_ database: Database, layout: TenantDatabase) throws -> [Orphan] {
        try layout.tables.filter { $0.role == .orphan }.sorted { $0.name < $1.name }.map { entry in
            Orphan(
                table: entry.name, rows: Int(try database.scalar("SELECT count(*) FROM \(SQL.quote(entry.name))")?.int64Value ?? 0),
                sql: layout.schema.table(entry.name)?.sql)
        }
    }

    /// Snapshots `tables` into `repository` (tag `pre-drop`), then drops them. Refuses any table that is not an
    /// orphan, naming what it is.
    package static func drop(_ tables: [String], databasePath: String, repository: Repository, busyTimeout: Duration) throws -> Dropped {
        guard !tables.isEmpty else { throw VeloError("no tables to drop") }
        do {
            let db = try Database(path: databasePath, mode: .readOnly, busyTimeout: busyTimeout)
            let layout = try TenantDatabase.load(db)
            for table in tables {
                let role = layout.role(of: table)
                guard layout.schema.table(table) != nil else { throw VeloError("\(databasePath): no table named \(table)") }
                guard role == .orphan else {
                    let what: String
                    switch role {
                    case .pivot:
                        what =
                            "the pivot table of field \(layout.pivots.first { $0.name == table }.map { "\($0.sourceCollection).\($0.field)" } ?? "?")"
                    case .collection: what = "the table of collection \(layout.collection(forTable: table)?.name ?? "?")"
                    default: what = "a \(role.rawValue) table"
                    }
                    throw VeloError("\(databasePath): \(table) is not an orphan: it is \(what); refusing to drop it")
                }
            }
        }
        var options = Backup.Options()
        options.onlyTables = tables
        options.tags = ["pre-drop"]
        options.busyTimeout = busyTimeout
        let snapshot = try Backup.run(databasePath: databasePath, repository: repository, options: options)
        let db = try Database(path: databasePath, mode: .readWrite, busyTimeout: busyTimeout)
        try db.transaction(.immediate) {
            // Check again under the write lock: the layout may have changed since the snapshot.
            let layout = try TenantDatabase.load(db)
            for table in tables where layout.role(of: table) != .orphan {
                throw VeloError("\(databasePath): \(table) is no longer an orphan; nothing was dropped")
            }
            // Rows written after the snapshot would be lost with the table: compare with what was saved.
            for table in tables {
                let rows = Int(try db.scalar("SELECT count(*) FROM \(SQL.quote(table))")?.int64Value ?? 0)
                if rows != (snapshot.rows[table] ?? 0) {
                    throw VeloError(
                        "\(databasePath): \(table) has \(rows) rows, the snapshot \(snapshot.id) holds \(snapshot.rows[table] ?? 0); it changed meanwhile, nothing was dropped"
                    )
                }
            }
            for table in tables { try db.execute("DROP TABLE \(SQL.quote(table))") }
            if layout.schema.table("cache")?.column("key") != nil {
                try db.execute("DELETE FROM \"cache\" WHERE \"key\" LIKE '%velo:table_exists:%'")
            }
        }
        return Dropped(dropped: tables, snapshot: snapshot.id, archive: snapshot.archive)
    }
}
