import VeloFormat
import VeloRepository
import VeloStorage

extension SnapshotHeader {
    /// The header of a snapshot `velo backup` takes of a live database (full or incremental): where it comes
    /// from, as read inside the backup's read transaction, what the plan keeps, and the columns of every table
    /// whose rows follow.
    static func backup(
        version: Int = ArchiveFormat.version, id: String, time: Int64, databasePath: String, source: ConsistentRead,
        layout: TenantDatabase, plan: TablePlan, options: Backup.Options
    ) throws -> SnapshotHeader {
        SnapshotHeader(
            version: version, id: id, time: time,
            source: .init(
                path: FileSystem.absolute(databasePath), kind: layout.kind.rawValue, sqliteVersion: Database.libraryVersion,
                journalMode: source.journalMode, pageSize: Int(try source.database.pragma("page_size")?.int64Value ?? 0),
                schemaVersion: layout.schemaVersion, migrations: layout.appliedMigrations, prefix: layout.prefix, app: options.app),
            tags: options.tags,
            contents: .init(records: options.records, collections: options.collections, excludedTables: plan.excluded),
            tables: plan.items.filter(\.includeRows).map { .init(name: $0.table, group: $0.group, columns: $0.columns) })
    }
}

extension ArchiveWriter {
    /// Writes a JSON entry a backup ends with (`segments.json`, `manifest.json`), refusing one past the limit every
    /// reader enforces (`ArchiveFormat.maxJSONEntryBytes`): a snapshot no velo could read is never catalogued. They
    /// list every part and uploaded file, so a source with tens of thousands of files reaches it.
    /// - Throws: `.input` naming the source, the entry and its size.
    func addJSONEntry(path: String, _ json: JSONValue, modificationTime: Int64, source: String) throws {
        var bytes = JSONWriter(pretty: true)
        bytes.write(json)
        bytes.appendByte(0x0A)
        guard bytes.bytes.count <= ArchiveFormat.maxJSONEntryBytes else {
            throw VeloError(
                "\(source): the snapshot's \(path) would be \((bytes.bytes.count + (1 << 20) - 1) >> 20) MiB, more than the \(ArchiveFormat.maxJSONEntryBytes >> 20) MiB a velo archive's may have (it lists every part and uploaded file); nothing was catalogued"
            )
        }
        _ = try addEntry(path: path, bytes: bytes.bytes, modificationTime: modificationTime)
    }

    /// Writes `header` as the archive's first entry, `velo-snapshot.json`, and returns its manifest entry.
    func addHeaderEntry(_ header: SnapshotHeader) throws -> Manifest.Entry {
        var bytes = JSONWriter(pretty: true)
        bytes.write(header.json)
        bytes.appendByte(0x0A)
        let entry = try addEntry(path: ArchiveFormat.headerPath, bytes: bytes.bytes, modificationTime: header.time)
        return Manifest.Entry(path: entry.path, bytes: entry.bytes, sha256: entry.sha256)
    }

    /// Writes the schema entry: every row of the database's `sqlite_schema` in rowid order, encoded into `buffer`
    /// (which is left empty), and returns its manifest entry.
    /// - Throws: `.input` when the schema is past the format's entry limit.
    func addSchemaEntry(of database: Database, buffer: ByteBuffer, modificationTime time: Int64) throws -> Manifest.Entry {
        buffer.removeAll()
        let schema = try database.prepare("SELECT \(ArchiveFormat.schemaColumns.joined(separator: ", ")) FROM sqlite_schema ORDER BY rowid")
        let encoder = RecordEncoder(columnCount: ArchiveFormat.schemaColumns.count)
        var rows = 0
        try schema.forEachRow { row in
            encoder.appendRow(of: row, to: buffer)
            rows += 1
        }
        guard buffer.count <= ArchiveFormat.maxDataEntryBytes else {
            throw VeloError(
                "\(database.path): the schema is \(buffer.count >> 20) MiB of SQL, more than the \(ArchiveFormat.maxDataEntryBytes >> 20) MiB an entry of a velo archive may have"
            )
        }
        let entry = try addEntry(path: ArchiveFormat.schemaPath, bytes: buffer.bytes, modificationTime: time)
        buffer.removeAll()
        return Manifest.Entry(path: entry.path, bytes: entry.bytes, sha256: entry.sha256, rows: rows)
    }
}
