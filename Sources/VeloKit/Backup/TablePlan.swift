import VeloFormat
import VeloRepository
import VeloStorage

/// Which tables a snapshot holds and in which group, from the database's layout and the backup options.
package struct TablePlan: Sendable {
    package struct Item: Sendable, Equatable {
        package var table: String
        package var group: ArchiveFormat.Group
        package var role: TableRole
        package var collection: String?
        /// Stored columns, in table order.
        package var columns: [String]
        /// True when rows are read (false for tables excluded by the options, whose DDL alone is kept).
        package var includeRows: Bool
        /// True for rowid tables, which are read in rowid order.
        package var hasRowID: Bool
    }

    /// Included tables in archive order: metadata, system, records, other, sqlite.
    package var items: [Item]
    /// Tables whose rows were left out.
    package var excluded: [String]

    /// - Parameters:
    ///   - collections: only these collections' tables (and pivots) are read; nil for all.
    ///   - excludeTables: tables whose rows are left out.
    ///   - includeFramework: also read Laravel's cache and queue tables.
    ///   - records: false for a metadata-only snapshot (schema, `collections`, `migrations`).
    ///   - onlyTables: when set, only these tables' rows (and the collection metadata) are read.
    package init(
        layout: TenantDatabase, collections: [String]?, excludeTables: [String], includeFramework: Bool, records: Bool,
        onlyTables: [String]? = nil
    ) throws {
        if let collections {
            let known = Set(layout.collections.map(\.name))
            let unknown = collections.filter { !known.contains($0) }
            if !unknown.isEmpty {
                throw VeloError(
                    "\(layout.path): no collection named \(unknown.map { "'\($0)'" }.joined(separator: ", ")); it has \(known.sorted().joined(separator: ", "))"
                )
            }
        }
        let tableNames = Set(layout.schema.tableNames)
        for table in excludeTables {
            if !tableNames.contains(table) { throw VeloError("\(layout.path): \(table): no such table", setting: "exclude_table") }
            if table == "collections" {
                throw VeloError("collections: a snapshot always holds the collection metadata", setting: "exclude_table")
            }
        }
        for table in onlyTables ?? [] where !tableNames.contains(table) {
            throw VeloError("\(layout.path): no table named \(table)")
        }
        let only = onlyTables.map(Set.init)
        let selectedCollections = collections.map(Set.init)
        var items: [Item] = []
        var excluded: [String] = []
        for name in layout.schema.tableNames {
            guard let table = layout.schema.table(name) else { continue }
            let role = layout.role(of: name)
            let group: ArchiveFormat.Group
            var owner: String?
            switch role {
            case .metadata: group = .metadata
            case .collection:
                owner = layout.collection(forTable: name)?.name
                group = layout.collection(forTable: name)?.isSystem == true ? .system : .records
            case .pivot:
                group = .records
                owner = layout.pivots.first { $0.name == name }?.sourceCollection
            case .system, .landlord, .frameworkCache, .frameworkQueue: group = .system
            case .sqliteInternal: group = .sqlite
            case .orphan, .other: group = .other
            }
            var include = true
            if excludeTables.contains(name) { include = false }
            if (role == .frameworkCache || role == .frameworkQueue) && !includeFramework { include = false }
            if let selectedCollections, role == .collection || role == .pivot, group == .records, !selectedCollections.contains(owner ?? "")
            {
                include = false
            }
            if selectedCollections != nil && group == .other { include = false }
            if !records && !(role == .metadata || name == "migrations" || name == "sqlite_sequence") { include = false }
            if name == "sqlite_stat1" || name.hasPrefix("sqlite_stat") { include = include && records }
            if let only { include = role == .metadata || only.contains(name) }
            if !include { excluded.append(name) }
            items.append(
                Item(
                    table: name, group: group, role: role, collection: owner,
                    columns: table.storedColumns.map(\.name), includeRows: include, hasRowID: !table.withoutRowID))
        }
        let order: [ArchiveFormat.Group] = [.metadata, .system, .records, .other, .sqlite]
        self.items = items.enumerated().sorted { a, b in
            let ga = order.firstIndex(of: a.element.group)!, gb = order.firstIndex(of: b.element.group)!
            return ga != gb ? ga < gb : a.offset < b.offset
        }.map(\.element)
        self.excluded = excluded
    }

    /// About how many rows the planned tables hold, for a percentage and a time left: the span of each rowid
    /// table's rowids (two index lookups, where `count(*)` would read every table once more), and `count(*)`
    /// only for tables without rowid. Deleted rows make it an overestimate; observers take it as an estimate.
    package func estimatedRows(in database: Database) throws -> Int {
        var total = 0
        for item in items where item.includeRows {
            let table = SQL.quote(item.table)
            if item.hasRowID {
                let low = try database.scalar("SELECT min(rowid) FROM \(table)")?.int64Value
                let high = try database.scalar("SELECT max(rowid) FROM \(table)")?.int64Value
                if let low, let high, high >= low {
                    let (span, overflow) = high.subtractingReportingOverflow(low)
                    total += overflow || span >= Int64(Int32.max) ? Int(Int32.max) : Int(span) + 1
                }
            } else {
                total += Int(try database.scalar("SELECT count(*) FROM \(table)")?.int64Value ?? 0)
            }
        }
        return total
    }
}

extension TablePlan {
    /// The tables a backup with `options` reads.
    init(layout: TenantDatabase, options: Backup.Options) throws {
        try self.init(
            layout: layout, collections: options.collections, excludeTables: options.excludeTables,
            includeFramework: options.includeFramework, records: options.records, onlyTables: options.onlyTables)
    }
}

extension TablePlan {
    /// A row past the format's limit, refused while reading rather than written into an archive that no velo
    /// would read back: named by its table, its number and its id.
    static func rowTooLarge(database: Database, table: String, row: Int, bytes: Int, statement: Statement, idColumn: Int?) -> VeloError {
        let id =
            idColumn.map { column -> String in
                let v = statement.value(Int32(column))
                return " (id \(v.stringValue ?? v.int64Value.map(String.init) ?? "?"))"
            } ?? ""
        return VeloError(
            "\(database.path): table \(table), row \(row)\(id): \((bytes >> 20) + 1) MiB encoded, more than the \(ArchiveFormat.maxRowBytes >> 20) MiB a row of a velo archive may have"
        )
    }
}
