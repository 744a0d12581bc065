/// Writes a planned restore into an existing Veloquent database, inside the caller's transaction: collection
/// metadata and tables first (created, or replaced and migrated under `overwrite`), then rows by primary key
/// (inserted, updated under `overwrite`, or skipped), then Veloquent's cached metadata is cleared and the
/// database checked. Any error leaves the transaction to be rolled back whole.
public struct RestoreImporter {
    /// Veloquent's own import result shape.
    public struct Report: Encodable, Sendable {
        public struct Metadata: Encodable, Sendable {
            public var collection: String
            public var action: String
        }

        public struct Counts: Encodable, Sendable {
            public var inserted = 0
            public var updated = 0
            public var skipped = 0
        }

        var metadata: [Metadata] = []
        var records: [String: Counts] = [:]
    }

    let facts: RestorePlanner.ArchiveFacts
    let selection: RestorePlanner.Selection
    let plan: RestorePlan
    let db: Database

    func run(snapshot: SelectedSnapshot, progress: (any ProgressObserver)?) throws -> Report {
        var report = Report()
        var layout = try TenantDatabase.load(db)
        // Collections are matched by name, as Veloquent does: the archive's ids of collections the target
        // already has under another id are rewritten to the target's, in definitions and in system rows.
        var idMap: [String: String] = [:]
        for c in facts.collections {
            if let existing = layout.collection(named: c.name), existing.id != c.id { idMap[c.id] = existing.id }
        }
        func remap(_ value: RecordValue) -> RecordValue {
            guard !idMap.isEmpty, case .text(let bytes) = value else { return value }
            var text = String(decoding: bytes, as: UTF8.self)
            if let mapped = idMap[text] { return .text(Array(mapped.utf8)) }
            for (from, to) in idMap where text.contains(from) { text = text.replacingOccurrences(of: "\"\(from)\"", with: "\"\(to)\"") }
            return .text(Array(text.utf8))
        }
        let baselineViolations = try db.rows("PRAGMA foreign_key_check").count
        let collectionsTable = layout.schema.table("collections")
        let metadataColumns = facts.header.tables.first { $0.name == "collections" }?.columns ?? []
        let tablePlans = Dictionary(plan.tables.map { ($0.table, $0) }, uniquingKeysWith: { a, _ in a })
        // 1. Metadata and tables.
        for c in selection.collections where !c.isSystem {
            let strategy = plan.options.strategy(for: c.name)
            let values = (facts.collectionRows[c.name] ?? []).map(remap)
            let usable = zip(metadataColumns, values).filter { collectionsTable?.column($0.0) != nil }
            if layout.collection(named: c.name) == nil {
                try createTable(c.tableName, layout: layout)
                for pivot in selection.tables where pivot.collection == c.name && pivot.name != c.tableName {
                    try createTable(pivot.name, layout: layout)
                }
                let insert = try db.prepare("INSERT INTO \"collections\" (\(SQL.quoteList(usable.map(\.0)))) VALUES (\(usable.map { _ in "?" }.joined(separator: ", ")))")
                for (i, pair) in usable.enumerated() { try pair.1.bind(to: insert, at: Int32(i + 1)) }
                try insert.step()
                report.metadata.append(.init(collection: c.name, action: "created"))
            } else if strategy == .overwrite {
                let kept: Set<String> = ["id", "table_name", "name", "created_at"]
                let changes = usable.filter { !kept.contains($0.0) }
                guard !changes.isEmpty else { continue }
                let update = try db.prepare("UPDATE \"collections\" SET \(changes.enumerated().map { "\(SQL.quote($0.element.0)) = ?\($0.offset + 1)" }.joined(separator: ", ")) WHERE \"name\" = ?\(changes.count + 1)")
                for (i, pair) in changes.enumerated() { try pair.1.bind(to: update, at: Int32(i + 1)) }
                try update.bind(c.name, at: Int32(changes.count + 1))
                try update.step()
                report.metadata.append(.init(collection: c.name, action: "updated"))
                for t in selection.tables where t.collection == c.name {
                    if layout.schema.table(t.name) == nil {
                        try createTable(t.name, layout: layout)
                        continue
                    }
                    for column in tablePlans[t.name]?.addColumns ?? [] {
                        guard let definition = facts.schema.schema.table(t.name)?.column(column) else { continue }
                        try db.execute("ALTER TABLE \(SQL.quote(t.name)) ADD COLUMN \(CollectionDDL.columnDefinition(definition))")
                    }
                    try syncIndexes(t.name, layout: layout)
                }
            } else {
                report.metadata.append(.init(collection: c.name, action: "skipped"))
            }
        }
        // Tables the selection needs and the target lacks (a pivot, a system table): creating one loses nothing.
        for t in selection.tables { try createTable(t.name, layout: try TenantDatabase.load(db)) }
        layout = try TenantDatabase.load(db)
        // 2. Rows.
        var statements: [String: (matcher: RowMatcher?, insert: Statement, update: Statement?, binder: RowBinder, keyPositions: [Int])] = [:]
        var done = 0
        // Checked against the manifest and SHA-256 the plan was made from: a scan that does not reach a sound end
        // throws, and the transaction is rolled back.
        let reader = try SnapshotReader(path: snapshot.archivePath, manifest: facts.manifest, archiveSHA256: facts.sha256)
        try reader.scan(tables: Set(selection.tables.map(\.name))) { table, line in
            guard let target = layout.schema.table(table.name) else {
                throw VeloError("\(plan.target): table \(table.name) is missing and could not be created; nothing was changed")
            }
            if statements[table.name] == nil {
                let key = target.primaryKey
                let positions = key.compactMap { table.columns.firstIndex(of: $0) }
                let usableKey = !key.isEmpty && positions.count == key.count
                let columns = table.columns
                let insert = try db.prepare("INSERT INTO \(SQL.quote(table.name)) (\(SQL.quoteList(columns))) VALUES (\(columns.indices.map { "?\($0 + 1)" }.joined(separator: ", ")))")
                var update: Statement?
                if usableKey {
                    let sets = columns.enumerated().filter { !key.contains($0.element) }.map { "\(SQL.quote($0.element)) = ?\($0.offset + 1)" }
                    let condition = zip(key, positions).map { "\(SQL.quote($0)) = ?\($1 + 1)" }.joined(separator: " AND ")
                    if !sets.isEmpty { update = try db.prepare("UPDATE \(SQL.quote(table.name)) SET \(sets.joined(separator: ", ")) WHERE \(condition)") }
                }
                statements[table.name] = (usableKey ? try RowMatcher(target: db, table: table.name, columns: columns, primaryKey: key) : nil,
                                          insert, update, RowBinder(columnCount: columns.count), usableKey ? positions : [])
            }
            let s = statements[table.name]!
            var counts = report.records[table.name] ?? .init()
            var match = RowMatcher.Match.absent
            if let matcher = s.matcher {
                guard let ranges = RowValidator.valueRanges(in: line), ranges.count == table.columns.count else {
                    throw ArchiveDamage(path: snapshot.archivePath, entry: nil, reason: "table \(table.name): malformed row; nothing was changed")
                }
                let key = try s.keyPositions.map { try RowsPass.value(line, ranges[$0], table.columns[$0]) }
                match = try matcher.match(line, key: key)
            }
            let strategy = plan.options.strategy(for: tablePlans[table.name]?.collection)
            switch match {
            case .absent:
                s.insert.reset()
                try s.binder.bind(line, to: s.insert)
                try rebindCollectionID(s.insert, table: table, line: line)
                try s.insert.step()
                counts.inserted += 1
            case .different where strategy == .overwrite && s.update != nil:
                let update = s.update!
                update.reset()
                try s.binder.bind(line, to: update)
                try rebindCollectionID(update, table: table, line: line)
                try update.step()
                counts.updated += 1
            default:
                counts.skipped += 1
            }
            report.records[table.name] = counts
            done += 1
            if done & 8191 == 0 { try Interruption.check(); progress?.update(done, detail: "restoring \(table.name)") }
            return true
        }
        progress?.finish()
        for t in selection.tables where report.records[t.name] == nil { report.records[t.name] = .init() }
        // 3. Veloquent caches collection metadata forever: what it cached is stale now.
        if layout.schema.table("cache")?.column("key") != nil {
            try db.execute("DELETE FROM \"cache\" WHERE \"key\" LIKE '%velo:collection:%' OR \"key\" LIKE '%velo:table_exists:%'")
        }
        // 4. Check before committing.
        let integrity = try db.rows("PRAGMA integrity_check").compactMap { $0.first?.stringValue }
        guard integrity == ["ok"] else { throw VeloError("\(plan.target): integrity check failed after the import: \(integrity.prefix(3).joined(separator: "; ")); nothing was changed") }
        let violations = try db.rows("PRAGMA foreign_key_check")
        guard violations.count <= baselineViolations else {
            throw VeloError("\(plan.target): \(violations.count) foreign keys would break (table \(violations[0].first?.stringValue ?? "?")); nothing was changed")
        }
        return report

        /// System rows name collections by id: an archive id the target knows under another id is rewritten.
        func rebindCollectionID(_ statement: Statement, table: SnapshotHeader.Table, line: UnsafeRawBufferPointer) throws {
            guard !idMap.isEmpty, let position = table.columns.firstIndex(of: "collection_id"), let ranges = RowValidator.valueRanges(in: line),
                  ranges.count == table.columns.count else { return }
            let value = try RowsPass.value(line, ranges[position], "collection_id")
            if case .text(let bytes) = value, let mapped = idMap[String(decoding: bytes, as: UTF8.self)] {
                try statement.bind(mapped, at: Int32(position + 1))
            }
        }
    }

    /// Creates a table the target lacks with the archive's exact DDL, then its indexes and triggers.
    func createTable(_ name: String, layout: TenantDatabase) throws {
        guard layout.schema.table(name) == nil, let sql = facts.schema.createSQL(name) else { return }
        try db.executeCreate(sql)
        for dependent in facts.schema.dependents(of: name) { try db.executeCreate(dependent) }
    }

    /// After a definition is replaced: the archive's managed indexes exist, the target's other managed ones go.
    func syncIndexes(_ table: String, layout: TenantDatabase) throws {
        let archived = facts.schema.objects.filter { $0.type == "index" && $0.tableName == table && $0.sql != nil }
        let present = Set(layout.schema.table(table)?.indexes.map(\.name) ?? [])
        for index in archived where !present.contains(index.name) { try db.executeCreate(index.sql!) }
        let archivedNames = Set(archived.map(\.name))
        for index in layout.schema.table(table)?.indexes ?? [] where index.origin == "c" && index.name.hasPrefix(table + "_") && !archivedNames.contains(index.name) {
            try db.execute("DROP INDEX \(SQL.quote(index.name))")
        }
    }
}
