import VeloFormat
import VeloStorage

/// What the repository knows about one snapshot without opening its archive: enough to list, select, retain
/// and verify it. Stored as `catalog/<id>.json`; the full header and manifest sit beside it in
/// `catalog/<id>.manifest.json` so listing thousands of snapshots stays fast.
public struct CatalogEntry: Equatable, Sendable {
    /// The result of the last `velo verify` of the snapshot.
    public struct Verification: Equatable, Sendable {
        public var time: Int64
        public var ok: Bool
        public var problems: [String]

        package init(time: Int64, ok: Bool, problems: [String]) {
            self.time = time
            self.ok = ok
            self.problems = problems
        }
    }

    public var id: String
    public var time: Int64
    /// Order of creation within the repository (assigned under the lock), which orders snapshots that share a
    /// second.
    public var sequence: Int
    /// The archive's path relative to the repository root.
    public var archive: String
    public var archiveBytes: Int64
    /// An incremental snapshot's new pieces (packs and segment lists) that it stored in the repository besides
    /// its archive; nil for a full archive.
    public var storedBytes: Int64?
    public var archiveSHA256: String
    public var sourcePath: String
    public var sourceKind: String
    public var schemaVersion: String?
    public var tags: [String]
    public var collections: [String]
    /// Rows per table.
    public var tableRows: [String: Int]
    public var records: Bool
    public var seconds: Double
    public var verification: Verification?
    /// The app and tenant of a snapshot taken with `velo backup --app` (nil otherwise).
    public var app: AppOrigin?
    /// The uploaded files the snapshot holds (count and bytes), when it holds any.
    public var files: Int?
    public var fileBytes: Int64?

    public var totalRows: Int { tableRows.values.reduce(0, +) }

    /// What the snapshot added to the repository when it was taken: its archive, and an incremental snapshot's
    /// new pieces. (Pieces it shares with later snapshots stay when it is removed: prune reports what is freed.)
    public var addedBytes: Int64 { archiveBytes + (storedBytes ?? 0) }

    package var json: JSONValue {
        var pairs: [(String, JSONValue)] =
            [
                ("format", .string("velo-catalog-entry")), ("version", .int(1)),
                ("id", .string(id)), ("time", .string(Timestamp.iso8601(time))), ("sequence", .int(sequence)),
                ("archive", .string(archive)),
                ("archive_bytes", .int(archiveBytes)), ("archive_sha256", .string(archiveSHA256)),
            ] + (storedBytes.map { [("stored_bytes", JSONValue.int($0))] } ?? []) + [
                (
                    "source",
                    .object(
                        [
                            ("path", .string(sourcePath)), ("kind", .string(sourceKind)),
                            ("schema_version", schemaVersion.map { .string($0) } ?? .null),
                        ] + (app.map { [("app", $0.json)] } ?? []))
                ),
                ("tags", .array(tags.map { .string($0) })), ("collections", .array(collections.map { .string($0) })),
                ("records", .bool(records)),
                ("rows", .object(tableRows.keys.sorted().map { ($0, .int(tableRows[$0]!)) })),
                ("seconds", .double(seconds)),
            ]
        if let files { pairs.append(("files", .object([("count", .int(files)), ("bytes", .int(fileBytes ?? 0))]))) }
        if let v = verification {
            pairs.append(
                (
                    "verification",
                    .object([
                        ("time", .string(Timestamp.iso8601(v.time))), ("ok", .bool(v.ok)),
                        ("problems", .array(v.problems.map { .string($0) })),
                    ])
                ))
        } else {
            pairs.append(("verification", .null))
        }
        return .object(pairs)
    }

    public init(
        id: String, time: Int64, sequence: Int = 0, archive: String, archiveBytes: Int64, archiveSHA256: String, sourcePath: String,
        sourceKind: String, schemaVersion: String?, tags: [String], collections: [String], tableRows: [String: Int],
        records: Bool, seconds: Double, verification: Verification? = nil
    ) {
        self.id = id
        self.time = time
        self.sequence = sequence
        self.archive = archive
        self.archiveBytes = archiveBytes
        self.archiveSHA256 = archiveSHA256
        self.sourcePath = sourcePath
        self.sourceKind = sourceKind
        self.schemaVersion = schemaVersion
        self.tags = tags
        self.collections = collections
        self.tableRows = tableRows
        self.records = records
        self.seconds = seconds
        self.verification = verification
    }

    init(json: JSONValue, file: String) throws {
        func fail(_ what: String) -> VeloError { VeloError("\(file): catalog entry is malformed (\(what))") }
        guard let id = json["id"]?.stringValue else { throw fail("no id") }
        guard let time = json["time"]?.stringValue.flatMap(Timestamp.parseISO8601) else { throw fail("no time") }
        guard let archive = json["archive"]?.stringValue, let sha = json["archive_sha256"]?.stringValue,
            let bytes = json["archive_bytes"]?.intValue
        else { throw fail("no archive") }
        self.id = id
        self.time = time
        sequence = json["sequence"]?.intValue ?? 0
        self.archive = archive
        archiveBytes = Int64(bytes)
        storedBytes = json["stored_bytes"]?.intValue.map(Int64.init)
        archiveSHA256 = sha
        sourcePath = json["source"]?["path"]?.stringValue ?? ""
        sourceKind = json["source"]?["kind"]?.stringValue ?? "tenant"
        schemaVersion = json["source"]?["schema_version"]?.stringValue
        tags = (json["tags"]?.arrayValue ?? []).compactMap(\.stringValue)
        collections = (json["collections"]?.arrayValue ?? []).compactMap(\.stringValue)
        records = json["records"]?.boolValue ?? true
        var rows: [String: Int] = [:]
        for (table, count) in json["rows"]?.objectValue ?? [] { rows[table] = count.intValue ?? 0 }
        tableRows = rows
        seconds = json["seconds"]?.doubleValue ?? 0
        app = AppOrigin(json: json["source"]?["app"])
        files = json["files"]?["count"]?.intValue
        fileBytes = json["files"]?["bytes"]?.intValue.map(Int64.init)
        if let v = json["verification"], case .object = v {
            verification = Verification(
                time: v["time"]?.stringValue.flatMap(Timestamp.parseISO8601) ?? 0,
                ok: v["ok"]?.boolValue ?? false,
                problems: (v["problems"]?.arrayValue ?? []).compactMap(\.stringValue))
        }
    }
}

extension CatalogEntry {
    /// The fields of this entry that disagree with what its archive records (the header's id, time, source and
    /// tags; the manifest's tables, rows and files): an entry edited or damaged in a way its JSON still parses.
    /// Listing, selection and retention read entries alone, so `velo verify` holds them to their archive. The
    /// bookkeeping that only the catalog keeps (sequence, duration, verification) has nothing to compare with.
    package func disagreements(withArchive header: SnapshotHeader, manifest: Manifest) -> [String] {
        let archived = CatalogEntry(
            snapshot: header, manifest: manifest, archive: archive, bytes: archiveBytes, sha256: archiveSHA256, seconds: seconds,
            sequence: sequence)
        var fields: [String] = []
        if id != archived.id { fields.append("id") }
        if time != archived.time { fields.append("time") }
        if sourcePath != archived.sourcePath || sourceKind != archived.sourceKind || schemaVersion != archived.schemaVersion
            || app != archived.app
        {
            fields.append("source")
        }
        if tags != archived.tags { fields.append("tags") }
        if collections != archived.collections { fields.append("collections") }
        if tableRows != archived.tableRows { fields.append("rows") }
        if records != archived.records { fields.append("records") }
        if files != archived.files || fileBytes != archived.fileBytes { fields.append("files") }
        return fields
    }
}
