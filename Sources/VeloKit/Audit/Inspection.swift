/// `velo inspect`: what a snapshot holds, from its header, its collection metadata and its manifest.
public struct Inspection: Encodable, Sendable {
    public struct FieldInfo: Encodable, Sendable {
        public var name: String
        public var type: String
        public var nullable: Bool
        public var unique: Bool
    }

    public struct PivotInfo: Encodable, Sendable {
        public var table: String
        public var field: String
        public var rows: Int?
    }

    public struct CollectionInfo: Encodable, Sendable {
        public var name: String
        public var id: String
        public var type: String
        public var system: Bool
        public var table: String
        /// Rows in the snapshot; nil when the table's rows were not included.
        public var rows: Int?
        public var fields: [FieldInfo]
        public var indexes: [String]
        public var pivots: [PivotInfo]
    }

    public struct TableInfo: Encodable, Sendable {
        public var name: String
        public var group: String
        public var role: String
        public var rows: Int
        public var parts: Int
    }

    public struct EntryInfo: Encodable, Sendable {
        public var path: String
        public var bytes: Int64
        public var rows: Int?
        public var sha256: String
    }

    public var formatVersion: Int
    public var id: String
    public var time: String
    public var toolVersion: String
    public var archive: String
    public var archiveBytes: Int64
    public var archiveSHA256: String?
    public var source: String
    public var sourceKind: String
    public var journalMode: String
    public var sqliteVersion: String
    public var schemaVersion: String?
    public var migrations: Int
    public var tags: [String]
    public var records: Bool
    public var excludedTables: [String]
    public var collections: [CollectionInfo]
    public var systemTables: [TableInfo]
    public var otherTables: [TableInfo]
    public var entries: [EntryInfo]
    public var totalRows: Int
    public var totalBytes: Int64

    /// Reads what is needed: the collection rows (at the start of the archive) and the manifest (from the
    /// catalog, or from the end of a lone archive).
    public static func inspect(_ snapshot: SelectedSnapshot) throws -> Inspection {
        var manifest: Manifest?
        if case .catalogued(let entry, let repository) = snapshot {
            manifest = try repository.catalog.detail(entry.id).manifest
        }
        let reader = try SnapshotReader(path: snapshot.archivePath, manifest: manifest)
        let header = reader.header
        var collections: [CollectionMetadata] = []
        // A catalogued snapshot's manifest is known: stop once the collection rows are read.
        let scanned = try reader.scan(tables: ["collections"], stopAfterTables: manifest != nil) { table, line in
            let values = try RecordDecoder.decode(line)
            let pairs = zip(table.columns, values).map { (name: $0, value: $1.sqliteValue) }
            collections.append(try CollectionMetadata(columns: pairs, path: "\(snapshot.archivePath): metadata"))
            return true
        }
        if manifest == nil { manifest = scanned }
        guard let manifest else { throw VeloError("\(snapshot.archivePath): no manifest") }
        let rows = Dictionary(manifest.tables.map { ($0.name, $0.rows) }, uniquingKeysWith: { a, _ in a })
        let pivots = TenantDatabase.findPivots(collections, prefix: header.source.prefix) { rows[$0] != nil }
        let infos = collections.sorted { $0.name < $1.name }.map { c in
            CollectionInfo(
                name: c.name, id: c.id, type: c.type.name, system: c.isSystem, table: c.tableName, rows: rows[c.tableName],
                fields: c.fields.map { FieldInfo(name: $0.name, type: $0.type.name, nullable: $0.nullable, unique: $0.unique) },
                indexes: c.managedIndexNames,
                pivots: pivots.filter { $0.sourceCollection == c.name }.map { PivotInfo(table: $0.name, field: $0.field, rows: rows[$0.name]) })
        }
        let owned = Set(collections.map(\.tableName) + pivots.map(\.name))
        let tables = manifest.tables.filter { !owned.contains($0.name) }
            .map { TableInfo(name: $0.name, group: $0.group.rawValue, role: $0.role, rows: $0.rows, parts: $0.parts.count) }
        return Inspection(
            formatVersion: header.version, id: header.id, time: Timestamp.iso8601(header.time), toolVersion: header.toolVersion,
            archive: snapshot.archivePath, archiveBytes: try FileSystem.fileSize(snapshot.archivePath),
            archiveSHA256: snapshot.catalogEntry?.archiveSHA256,
            source: header.source.path, sourceKind: header.source.kind, journalMode: header.source.journalMode,
            sqliteVersion: header.source.sqliteVersion, schemaVersion: header.source.schemaVersion,
            migrations: header.source.migrations.count, tags: header.tags, records: header.contents.records,
            excludedTables: header.contents.excludedTables, collections: infos,
            systemTables: tables.filter { $0.group == "metadata" || $0.group == "system" || $0.group == "sqlite" },
            otherTables: tables.filter { $0.group == "other" || $0.group == "records" },
            entries: manifest.entries.map { EntryInfo(path: $0.path, bytes: $0.bytes, rows: $0.rows, sha256: $0.sha256) },
            totalRows: manifest.totalRows, totalBytes: manifest.totalBytes)
    }
}
