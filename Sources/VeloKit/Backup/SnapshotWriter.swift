import VeloFormat
import VeloRepository
import VeloStorage

/// Writes one snapshot archive from a frozen database: the header, the schema, every planned table's rows in
/// bounded parts, then the manifest. Plain synchronous streaming: SQLite step, encode, compress (zstd's own
/// worker thread overlaps compression with encoding), write.
struct SnapshotWriter {
    let database: Database
    let plan: TablePlan
    let header: SnapshotHeader
    let partBytes: Int
    let progress: (any ProgressObserver)?
    /// Uploaded files to add after the rows (`velo backup --app`), and what to do once every row is read (end
    /// the read transaction, so writers need not wait while the files are copied).
    var files: (uploads: UploadedFiles, list: [UploadedFiles.File])?
    var afterRows: (() -> Void)?
    /// Files listed by the walk that were gone when they were read (deleted meanwhile).
    private(set) var vanishedFiles: [String] = []

    /// Rows read per table.
    private(set) var rows: [String: Int] = [:]

    init(database: Database, plan: TablePlan, header: SnapshotHeader, partBytes: Int, progress: (any ProgressObserver)?) {
        self.database = database
        self.plan = plan
        self.header = header
        self.partBytes = partBytes
        self.progress = progress
    }

    /// Writes everything into `writer` and returns the manifest (also written, as the last entry).
    mutating func write(to writer: ArchiveWriter) throws -> Manifest {
        var entries: [Manifest.Entry] = []
        var tables: [Manifest.Table] = []
        let time = header.time
        entries.append(try writer.addHeaderEntry(header))

        let buffer = ByteBuffer(capacity: partBytes + (1 << 20))
        entries.append(try writer.addSchemaEntry(of: database, buffer: buffer, modificationTime: time))

        let estimate = progress == nil ? 0 : try plan.estimatedRows(in: database)
        var done = 0
        for item in plan.items where item.includeRows {
            let encoder = RecordEncoder(columnCount: item.columns.count)
            let order = item.hasRowID ? " ORDER BY rowid" : ""
            let select = item.columns.isEmpty ? "NULL" : SQL.quoteList(item.columns)
            let statement = try database.prepare("SELECT \(select) FROM \(SQL.quote(item.table))\(order)")
            var parts: [String] = []
            var partRows = 0
            var tableRows = 0
            func flush() throws {
                let path = ArchiveFormat.partPath(group: item.group, table: item.table, part: parts.count + 1)
                let entry = try writer.addEntry(path: path, bytes: buffer.bytes, modificationTime: time)
                entries.append(Manifest.Entry(path: path, bytes: entry.bytes, sha256: entry.sha256, table: item.table, rows: partRows))
                parts.append(path)
                buffer.removeAll()
                partRows = 0
            }
            statement.reset()
            let idColumn = item.columns.firstIndex(of: "id")
            while try statement.step() {
                let before = buffer.count
                encoder.appendRow(of: statement, to: buffer)
                if buffer.count - before - 1 > ArchiveFormat.maxRowBytes {
                    throw TablePlan.rowTooLarge(
                        database: database, table: item.table, row: tableRows + 1, bytes: buffer.count - before, statement: statement,
                        idColumn: idColumn)
                }
                partRows += 1
                tableRows += 1
                if buffer.count >= partBytes { try flush() }
                if tableRows & 4095 == 0 { try Interruption.check(); progress?.update(done + tableRows, of: estimate, detail: item.table) }
            }
            if partRows > 0 { try flush() }
            done += tableRows
            rows[item.table] = tableRows
            tables.append(
                Manifest.Table(
                    name: item.table, group: item.group, role: item.role.rawValue, collection: item.collection,
                    columns: item.columns, rows: tableRows, parts: parts))
        }
        progress?.update(done, of: estimate)
        afterRows?()
        if let files {
            let written = try files.uploads.write(files.list, to: writer, progress: progress)
            entries += written.entries
            vanishedFiles = written.vanished
        }
        let manifest = Manifest(snapshotID: header.id, entries: entries, tables: tables)
        try writer.addJSONEntry(path: ArchiveFormat.manifestPath, manifest.json, modificationTime: time, source: database.path)
        progress?.finish()
        return manifest
    }
}
