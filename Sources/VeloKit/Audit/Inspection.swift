import VeloFormat
import VeloRepository
import VeloStorage

/// `velo inspect`: what a snapshot holds, from its header, its collection metadata and its manifest.
package struct Inspection: Encodable, Sendable {
    package struct FieldInfo: Encodable, Sendable {
        package var name: String
        package var type: String
        package var nullable: Bool
        package var unique: Bool
    }

    package struct PivotInfo: Encodable, Sendable {
        package var table: String
        package var field: String
        package var rows: Int?
    }

    package struct CollectionInfo: Encodable, Sendable {
        package var name: String
        package var id: String
        package var type: String
        package var system: Bool
        package var table: String
        /// Rows in the snapshot; nil when the table's rows were not included.
        package var rows: Int?
        package var fields: [FieldInfo]
        package var indexes: [String]
        package var pivots: [PivotInfo]
    }

    package struct TableInfo: Encodable, Sendable {
        package var name: String
        package var group: String
        package var role: String
        package var rows: Int
        package var parts: Int
    }

    package struct EntryInfo: Encodable, Sendable {
        package var path: String
        package var bytes: Int64
        package var rows: Int?
        package var sha256: String
    }

    /// For an incremental snapshot (format 2): how much of it this snapshot stored and how much it shares.
    package struct IncrementalInfo: Encodable, Sendable {
        package var segments: Int
        package var newSegments: Int
        /// Uncompressed bytes of rows, and of the new segments among them.
        package var rawBytes: Int64
        package var newRawBytes: Int64
        /// Bytes of packs and lists this snapshot added to the repository (compressed, as stored).
        package var storedBytes: Int64
        /// Tables with at least one new segment.
        package var changedTables: [String]
        /// Tables some of whose frames are delta frames (read with the older frames they were compressed against).
        package var deltaTables: [String]
    }

    package var formatVersion: Int
    package var incremental: IncrementalInfo?
    package var id: String
    package var time: String
    package var toolVersion: String
    package var archive: String
    package var archiveBytes: Int64
    package var archiveSHA256: String?
    package var source: String
    package var sourceKind: String
    package var journalMode: String
    package var sqliteVersion: String
    package var schemaVersion: String?
    package var migrations: Int
    package var tags: [String]
    package var records: Bool
    package var excludedTables: [String]
    package var collections: [CollectionInfo]
    package var systemTables: [TableInfo]
    package var otherTables: [TableInfo]
    package var entries: [EntryInfo]
    package var totalRows: Int
    package var totalBytes: Int64
    /// The app and tenant (`velo backup --app`), and the uploaded files the snapshot holds.
    package var app: AppOrigin? = nil
    package var files: [FileInfo] = []
    /// Whether the snapshot is stored encrypted (in an encrypted repository).
    package var encrypted = false

    /// One uploaded file: where it restores to (relative to the tenant's storage disk), its size, mode,
    /// modification time and SHA-256.
    package struct FileInfo: Encodable, Sendable {
        package var path: String
        package var bytes: Int64
        package var mode: String?
        package var modified: String?
        package var sha256: String
    }

    /// Reads what is needed: the collection rows (at the start of the archive) and the manifest (from the
    /// catalog, or from the end of a lone archive).
    package static func inspect(_ snapshot: SelectedSnapshot) throws -> Inspection {
        var manifest: Manifest?
        if case .catalogued(let entry, let repository) = snapshot {
            manifest = try repository.catalog.detail(entry.id).manifest
        }
        let reader = try SnapshotReader(snapshot, manifest: manifest)
        let header = reader.header
        var collections: [CollectionMetadata] = []
        // A catalogued snapshot's manifest is known: stop once the collection rows are read.
        let scanned = try reader.scan(tables: ["collections"], stopAfterTables: manifest != nil) { table, line in
            let values = try RecordDecoder.decode(line)
            let pairs = zip(table.columns, values).map { (name: $0, value: $1.sqliteValue) }
            collections.append(try CollectionMetadata(columns: pairs, path: "\(snapshot.archiveLocation): metadata"))
            return true
        }
        if manifest == nil { manifest = scanned }
        guard let manifest else { throw VeloError("\(snapshot.archiveLocation): no manifest") }
        let rows = Dictionary(manifest.tables.map { ($0.name, $0.rows) }, uniquingKeysWith: { a, _ in a })
        let pivots = TenantDatabase.findPivots(collections, prefix: header.source.prefix) { rows[$0] != nil }
        let infos = collections.sorted { $0.name < $1.name }.map { c in
            CollectionInfo(
                name: c.name, id: c.id, type: c.type.name, system: c.isSystem, table: c.tableName, rows: rows[c.tableName],
                fields: c.fields.map { FieldInfo(name: $0.name, type: $0.type.name, nullable: $0.nullable, unique: $0.unique) },
                indexes: c.managedIndexNames,
                pivots: pivots.filter { $0.sourceCollection == c.name }.map {
                    PivotInfo(table: $0.name, field: $0.field, rows: rows[$0.name])
                })
        }
        let owned = Set(collections.map(\.tableName) + pivots.map(\.name))
        let tables = manifest.tables.filter { !owned.contains($0.name) }
            .map { TableInfo(name: $0.name, group: $0.group.rawValue, role: $0.role, rows: $0.rows, parts: $0.parts.count) }
        var incremental: IncrementalInfo?
        if header.version == SegmentFormat.version, let document = try SegmentedSnapshot.read(snapshot).segments {
            incremental = IncrementalInfo(
                segments: document.tables.reduce(0) { $0 + $1.segments }, newSegments: document.tables.reduce(0) { $0 + $1.newSegments },
                rawBytes: document.tables.reduce(0) { $0 + $1.rawBytes }, newRawBytes: document.tables.reduce(0) { $0 + $1.newRawBytes },
                storedBytes: document.storedBytes, changedTables: document.tables.filter { $0.newSegments > 0 }.map(\.name),
                deltaTables: document.tables.filter(\.deltaFrames).map(\.name))
        }
        var inspection = Inspection(
            formatVersion: header.version, incremental: incremental, id: header.id, time: Timestamp.iso8601(header.time),
            toolVersion: header.toolVersion,
            archive: snapshot.archiveLocation, archiveBytes: try snapshot.archiveSize(),
            archiveSHA256: snapshot.catalogEntry?.archiveSHA256,
            source: header.source.path, sourceKind: header.source.kind, journalMode: header.source.journalMode,
            sqliteVersion: header.source.sqliteVersion, schemaVersion: header.source.schemaVersion,
            migrations: header.source.migrations.count, tags: header.tags, records: header.contents.records,
            excludedTables: header.contents.excludedTables, collections: infos,
            systemTables: tables.filter { $0.group == "metadata" || $0.group == "system" || $0.group == "sqlite" },
            otherTables: tables.filter { $0.group == "other" || $0.group == "records" },
            entries: manifest.entries.map { EntryInfo(path: $0.path, bytes: $0.bytes, rows: $0.rows, sha256: $0.sha256) },
            totalRows: manifest.totalRows, totalBytes: manifest.totalBytes)
        inspection.app = header.source.app
        if case .catalogued(_, let repository) = snapshot { inspection.encrypted = repository.isEncrypted }
        if case .sealedExport = snapshot { inspection.encrypted = true }
        inspection.files = manifest.files.map { f in
            FileInfo(
                path: ArchiveFormat.fileRelativePath(entry: f.path) ?? f.path, bytes: f.bytes, mode: f.mode.map(Manifest.octal),
                modified: f.modified.map { Timestamp.iso8601($0 / 1_000_000_000) }, sha256: f.sha256)
        }
        return inspection
    }
}
