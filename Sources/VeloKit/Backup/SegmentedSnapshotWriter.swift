import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Writes an incremental (format version 2) snapshot from a frozen database: every planned table's rows are
/// cut into content-defined segments; a segment the previous snapshot of the same source already has (same
/// last rowid, same SHA-256) is referenced, a new one is packed (`PackWriter`). The parts of the manifest are
/// runs of whole segments, hashed as they stream, so the manifest is the one a full archive of the same rows
/// would carry. With `unchanged` (the source's state is the previous snapshot's), tables are not read at all.
struct SegmentedSnapshotWriter {
    let database: Database
    let plan: TablePlan
    let header: SnapshotHeader
    let partBytes: Int
    let level: Int32
    let store: PieceStore
    /// Prefixed to every segment before it is hashed (the repository's id): a tenant who controls row contents
    /// cannot compute two segments whose 8-byte hashes collide without it.
    let hashKey: [UInt8]
    let previous: (header: SnapshotHeader, segments: SegmentsDocument)?
    let unchanged: Bool
    let sourceState: String?
    let progress: (any ProgressObserver)?
    /// Segments waiting to be listed at most; past it the reader waits for the oldest one's frame.
    var pendingLimit = 1 << 14
    /// Called once every row is read (to end the read transaction before the packs are finished).
    var afterRows: (() -> Void)?
    /// Compression threads (`Backup.Options.workers`); with any, segments are also hashed on a thread of their own.
    var workers = 0
    /// Uploaded files to store after the rows (`velo backup --app`): see `FileSegmentWriter`.
    var files: (uploads: UploadedFiles, list: [UploadedFiles.File])?
    /// The files table of the newest earlier snapshot of the source that holds files (`SegmentedSnapshot
    /// .previousFiles`): a snapshot in between without files (a `--db` backup, a safety snapshot) does not make
    /// every file new again.
    var previousFiles: (table: SegmentsDocument.Table, taken: Int64)?
    /// Files listed by the walk that were gone when they were read (deleted meanwhile).
    private(set) var vanishedFiles: [String] = []

    /// Writes the archive's entries into `writer` (the packs and lists into the repository first) and returns
    /// the manifest and the segments document.
    mutating func write(to writer: ArchiveWriter, packs: PackWriter) throws -> (Manifest, SegmentsDocument) {
        var entries: [Manifest.Entry] = []
        var tables: [Manifest.Table] = []
        var documentTables: [SegmentsDocument.Table] = []
        let time = header.time
        entries.append(try writer.addHeaderEntry(header))

        let schemaBuffer = ByteBuffer()
        entries.append(try writer.addSchemaEntry(of: database, buffer: schemaBuffer, modificationTime: time))

        let lists = SegmentListWrites(store: store, level: level)
        defer { lists.drain() }  // on a failure too: nothing is written after the backup cleans up
        var done = 0
        let estimate = progress == nil ? 0 : try plan.estimatedRows(in: database)
        for item in plan.items where item.includeRows {
            let before = previous?.segments.table(item.table)
            let sameShape =
                previous?.header.tables.first { $0.name == item.table }.map { $0.columns == item.columns && $0.group == item.group }
                ?? false
            let table: SegmentsDocument.Table
            if unchanged, sameShape, let before {
                table = SegmentsDocument.Table(
                    name: before.name, list: before.list, segments: before.segments, newSegments: 0,
                    rawBytes: before.rawBytes, newRawBytes: 0, parts: before.parts, base: before.base,
                    deltaFrames: before.deltaFrames)
            } else {
                var old: SegmentList?
                if let before {
                    do { old = try store.readList(before.list) } catch {
                        Diagnostics.warn(
                            "\(item.table): the previous snapshot's segment list cannot be read (\(error)); storing every segment anew")
                    }
                }
                let scanned = try scan(item, old: old, packs: packs, rowsBefore: done, estimate: estimate)
                // Stored as a patch against the previous list's base when that is small enough; written while the
                // next table is read.
                let piece = SegmentListPatch.piece(for: scanned.list, previous: old, previousSHA256: before?.list, in: store)
                if let bytes = piece.bytes { try lists.submit(bytes, sha256: piece.sha256) }
                table = SegmentsDocument.Table(
                    name: item.table, list: piece.sha256, segments: scanned.segments, newSegments: scanned.newSegments,
                    rawBytes: scanned.rawBytes, newRawBytes: scanned.newRawBytes, parts: scanned.parts, base: piece.base,
                    deltaFrames: piece.deltaFrames)
            }
            let rows = table.parts.reduce(0) { $0 + $1.rows }
            done += rows
            progress?.update(done, of: estimate, detail: item.table)
            for part in table.parts {
                entries.append(Manifest.Entry(path: part.path, bytes: part.bytes, sha256: part.sha256, table: item.table, rows: part.rows))
            }
            tables.append(
                Manifest.Table(
                    name: item.table, group: item.group, role: item.role.rawValue, collection: item.collection,
                    columns: item.columns, rows: rows, parts: table.parts.map(\.path)))
            documentTables.append(table)
        }
        afterRows?()
        var filesTable: SegmentsDocument.Table?
        if let files, !files.list.isEmpty {
            let stored = try FileSegmentWriter(
                uploads: files.uploads, store: store, packs: packs, hashKey: hashKey, previous: previousFiles?.table,
                previousTaken: (previousFiles?.taken ?? 0) * 1_000_000_000, progress: progress
            ).write(files.list, lists: lists)
            entries += stored.entries
            vanishedFiles = stored.vanished
            filesTable = stored.table.parts.isEmpty ? nil : stored.table
        }
        // Every pack and list is durable under its final name before anything refers to it.
        try packs.finish()
        let listBytes = try lists.finish()
        let document = SegmentsDocument(
            sourceState: sourceState, tables: documentTables, files: filesTable,
            storedBytes: packs.writtenBytes + listBytes)
        try writer.addJSONEntry(path: SegmentFormat.segmentsPath, document.json, modificationTime: time, source: database.path)
        var manifest = Manifest(snapshotID: header.id, entries: entries, tables: tables)
        manifest.version = SegmentFormat.version
        try writer.addJSONEntry(path: ArchiveFormat.manifestPath, manifest.json, modificationTime: time, source: database.path)
        progress?.finish()
        return (manifest, document)
    }

    /// What one table's scan produced.
    struct Scanned {
        var list: [UInt8]
        var segments = 0
        var newSegments = 0
        var rawBytes: Int64 = 0
        var newRawBytes: Int64 = 0
        var parts: [SegmentsDocument.Part] = []
    }

    /// Reads and encodes one table's rows, cuts them into segments and hands them to a `SegmentDeduplicator`
    /// (on a thread of its own when compression has threads too: `workers` > 0).
    private func scan(_ item: TablePlan.Item, old: SegmentList?, packs: PackWriter, rowsBefore: Int, estimate: Int) throws -> Scanned {
        let deduplicator = try SegmentDeduplicator(
            item: item, old: old, packs: packs, hashKey: hashKey, partBytes: partBytes,
            pendingLimit: pendingLimit)
        let handOff = SegmentHandOff(deduplicator: deduplicator, threaded: workers > 0)
        do {
            try read(item, into: handOff, rowsBefore: rowsBefore, estimate: estimate)
            return try handOff.finish()
        } catch {
            handOff.cancel()
            throw error
        }
    }

    private func read(_ item: TablePlan.Item, into handOff: SegmentHandOff, rowsBefore: Int, estimate: Int) throws {
        let encoder = RecordEncoder(columnCount: item.columns.count)
        let select = item.columns.isEmpty ? "NULL" : SQL.quoteList(item.columns)
        let sql =
            item.hasRowID
            ? "SELECT \(select), rowid FROM \(SQL.quote(item.table)) ORDER BY rowid" : "SELECT \(select) FROM \(SQL.quote(item.table))"
        let statement = try database.prepare(sql)
        let keyColumn = Int32(max(item.columns.count, 1))
        var segmentRows = 0
        var tableRows = 0
        var key: Int64 = 0
        let idColumn = item.columns.firstIndex(of: "id")
        while try statement.step() {
            let out = handOff.buffer
            let start = out.count
            encoder.appendRow(of: statement, to: out)
            let rowBytes = out.count - start
            if rowBytes - 1 > ArchiveFormat.maxRowBytes {
                throw TablePlan.rowTooLarge(
                    database: database, table: item.table, row: tableRows + 1, bytes: rowBytes, statement: statement, idColumn: idColumn)
            }
            tableRows += 1
            segmentRows += 1
            let hash: UInt64
            if item.hasRowID {
                key = statement.int64(keyColumn)
                hash = SegmentFormat.mix(key)
            } else {
                key = Int64(tableRows)
                hash = SegmentFormat.fnv(UnsafeRawBufferPointer(start: out.base + start, count: rowBytes))
            }
            let segmentBytes = handOff.segmentBytes
            if SegmentFormat.isBoundary(hash: hash, rowBytes: rowBytes, segmentBytes: segmentBytes)
                || segmentBytes >= SegmentFormat.maxSegmentBytes
            {
                try handOff.endSegment(rows: segmentRows, lastKey: key)
                segmentRows = 0
            }
            if tableRows & 4095 == 0 {
                try Interruption.check(); progress?.update(rowsBefore + tableRows, of: estimate, detail: item.table)
            }
        }
        if segmentRows > 0 { try handOff.endSegment(rows: segmentRows, lastKey: key) }
    }
}
