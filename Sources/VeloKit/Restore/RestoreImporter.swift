import VeloFormat
import VeloRepository
import VeloStorage

/// Writes a planned restore into an existing Veloquent database, inside the caller's transaction: collection
/// metadata and tables first (created, or replaced and migrated under `overwrite`), then rows by primary key
/// (inserted, updated under `overwrite`, or skipped), then Veloquent's cached metadata is cleared and the
/// database checked. Any error leaves the transaction to be rolled back whole.
package struct RestoreImporter {
    /// Veloquent's own import result shape.
    package struct Report: Encodable, Sendable {
        package typealias Metadata = RestoredCollection
        package typealias Counts = RestoredRows

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
        let idMap = RowClassifier.collectionIDMap(archive: facts.collections, target: layout)
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
                let insert = try db.prepare(
                    "INSERT INTO \"collections\" (\(SQL.quoteList(usable.map(\.0)))) VALUES (\(usable.map { _ in "?" }.joined(separator: ", ")))"
                )
                for (i, pair) in usable.enumerated() { try pair.1.bind(to: insert, at: Int32(i + 1)) }
                try insert.step()
                report.metadata.append(.init(collection: c.name, action: "created"))
            } else if strategy == .overwrite {
                let kept: Set<String> = ["id", "table_name", "name", "created_at"]
                let changes = usable.filter { !kept.contains($0.0) }
                guard !changes.isEmpty else { continue }
                let update = try db.prepare(
                    "UPDATE \"collections\" SET \(changes.enumerated().map { "\(SQL.quote($0.element.0)) = ?\($0.offset + 1)" }.joined(separator: ", ")) WHERE \"name\" = ?\(changes.count + 1)"
                )
                for (i, pair) in changes.enumerated() { try pair.1.bind(to: update, at: Int32(i + 1)) }
                try update.bind(c.name, at: Int32(changes.count + 1))
                try update.step()
                report.metadata.append(.init(collection: c.name, action: "updated"))
            } else {
                report.metadata.append(.init(collection: c.name, action: "skipped"))
            }
        }
        // Tables the selection needs and the target lacks (a pivot, a system table): creating one loses nothing.
        // The tables it has change exactly as the plan said: columns added, indexes synced, the table rebuilt.
        // Missing tables first, so that a rebuild finds every pivot table in place.
        layout = try TenantDatabase.load(db)
        for t in selection.tables where layout.schema.table(t.name) == nil { try createTable(t.name, layout: layout) }
        for t in selection.tables {
            if let changes = plan.changes[t.name] { try changes.apply(to: t.name, collection: t.collection, db: db) }
        }
        layout = try TenantDatabase.load(db)
        // 2. Rows.
        var statements: [String: (classifier: RowClassifier, insert: Statement, update: Statement?, binder: RowBinder)] = [:]
        var done = 0
        // Checked against the manifest and SHA-256 the plan was made from: a scan that does not reach a sound end
        // throws, and the transaction is rolled back.
        let reader = try SnapshotReader(
            snapshot, manifest: facts.manifest, archiveSHA256: facts.sha256,
            audited: !facts.verifyWhileReading)
        try reader.scan(tables: Set(selection.tables.map(\.name))) { table, line in
            guard let target = layout.schema.table(table.name) else {
                throw VeloError("\(plan.target): table \(table.name) is missing and could not be created; nothing was changed")
            }
            if statements[table.name] == nil {
                let key = target.primaryKey
                let positions = key.compactMap { table.columns.firstIndex(of: $0) }
                let usableKey = !key.isEmpty && positions.count == key.count
                let columns = table.columns
                let insert = try db.prepare(
                    "INSERT INTO \(SQL.quote(table.name)) (\(SQL.quoteList(columns))) VALUES (\(columns.indices.map { "?\($0 + 1)" }.joined(separator: ", ")))"
                )
                var update: Statement?
                if usableKey {
                    let sets = columns.enumerated().filter { !key.contains($0.element) }.map {
                        "\(SQL.quote($0.element)) = ?\($0.offset + 1)"
                    }
                    let condition = zip(key, positions).map { "\(SQL.quote($0)) = ?\($1 + 1)" }.joined(separator: " AND ")
                    if !sets.isEmpty {
                        update = try db.prepare("UPDATE \(SQL.quote(table.name)) SET \(sets.joined(separator: ", ")) WHERE \(condition)")
                    }
                }
                // The plan's rule: the added columns exist now, so the rows are compared with them as they are.
                let classifier = try RowClassifier(
                    target: db, table: table, targetTable: target, idMap: idMap, substitutes: [:], archivePath: snapshot.archiveLocation)
                statements[table.name] = (classifier, insert, update, RowBinder(columnCount: columns.count))
            }
            let s = statements[table.name]!
            var counts = report.records[table.name] ?? .init()
            let row = try s.classifier.classify(line)
            let strategy = plan.options.strategy(for: tablePlans[table.name]?.collection)
            switch row.match {
            case .absent:
                s.insert.reset()
                try s.binder.bind(row.line, to: s.insert)
                try s.insert.step()
                counts.inserted += 1
            case .different where strategy == .overwrite && s.update != nil:
                let update = s.update!
                update.reset()
                try s.binder.bind(row.line, to: update)
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
        guard integrity == ["ok"] else {
            throw VeloError(
                "\(plan.target): integrity check failed after the import: \(integrity.prefix(3).joined(separator: "; ")); nothing was changed"
            )
        }
        let violations = try db.rows("PRAGMA foreign_key_check")
        guard violations.count <= baselineViolations else {
            throw VeloError(
                "\(plan.target): \(violations.count) foreign keys would break (table \(violations[0].first?.stringValue ?? "?")); nothing was changed"
            )
        }
        return report
    }

    /// Creates a table the target lacks with the archive's exact DDL, then its indexes and triggers.
    func createTable(_ name: String, layout: TenantDatabase) throws {
        guard layout.schema.table(name) == nil, let sql = facts.schema.createSQL(name) else { return }
        try db.executeCreate(sql)
        for dependent in facts.schema.dependents(of: name) { try db.executeCreate(dependent) }
    }
}
