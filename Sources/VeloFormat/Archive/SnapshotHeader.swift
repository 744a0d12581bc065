/// `velo-snapshot.json`, the first entry of an archive: what the snapshot is, when and where it was taken,
/// and what it holds. Written before the data, so it carries no checksums (the manifest does).
public struct SnapshotHeader: Equatable, Sendable {
    /// Where the snapshot came from.
    public struct Source: Equatable, Sendable {
        /// The database path as given to `velo backup`, made absolute.
        public var path: String
        /// `tenant`, `landlord` or `single-tenant`.
        public var kind: String
        public var sqliteVersion: String
        public var journalMode: String
        public var pageSize: Int
        /// The newest applied Veloquent migration.
        public var schemaVersion: String?
        /// All applied migrations, in order.
        public var migrations: [String]
        /// The collection table prefix.
        public var prefix: String
        /// The app and tenant, for a snapshot taken with `velo backup --app`.
        public var app: AppOrigin? = nil

        package init(
            path: String, kind: String, sqliteVersion: String, journalMode: String, pageSize: Int, schemaVersion: String? = nil,
            migrations: [String], prefix: String, app: AppOrigin? = nil
        ) {
            self.path = path
            self.kind = kind
            self.sqliteVersion = sqliteVersion
            self.journalMode = journalMode
            self.pageSize = pageSize
            self.schemaVersion = schemaVersion
            self.migrations = migrations
            self.prefix = prefix
            self.app = app
        }
    }

    /// What was included.
    public struct Contents: Equatable, Sendable {
        /// False for a metadata-only snapshot (`--no-records`).
        public var records: Bool
        /// The collections asked for with `--collections`, or nil for all.
        public var collections: [String]?
        /// Tables whose rows were left out (the schema still has their DDL).
        public var excludedTables: [String]

        package init(records: Bool, collections: [String]? = nil, excludedTables: [String]) {
            self.records = records
            self.collections = collections
            self.excludedTables = excludedTables
        }
    }

    /// A table whose rows the archive holds, with its columns: the order of every row's values.
    public struct Table: Equatable, Sendable {
        public var name: String
        public var group: ArchiveFormat.Group
        public var columns: [String]

        public init(name: String, group: ArchiveFormat.Group, columns: [String]) {
            self.name = name
            self.group = group
            self.columns = columns
        }

        /// The folder its parts are in, e.g. `records/_velo_posts/`.
        public var partPrefix: String { "\(group.rawValue)/\(ArchiveFormat.escape(name))/" }
    }

    public var version: Int
    public var id: String
    /// Unix seconds; the snapshot's point in time.
    public var time: Int64
    public var toolVersion: String
    public var source: Source
    public var tags: [String]
    public var contents: Contents
    /// The tables whose rows follow, in archive order.
    public var tables: [Table]

    public init(
        version: Int = ArchiveFormat.version, id: String, time: Int64, toolVersion: String = VeloVersion.current,
        source: Source, tags: [String], contents: Contents, tables: [Table]
    ) {
        self.tables = tables
        self.version = version
        self.id = id
        self.time = time
        self.toolVersion = toolVersion
        self.source = source
        self.tags = tags
        self.contents = contents
    }

    package var json: JSONValue {
        .object([
            ("format", .string(ArchiveFormat.name)),
            ("version", .int(version)),
            ("id", .string(id)),
            ("time", .string(Timestamp.iso8601(time))),
            ("tool", .object([("name", .string("velo")), ("version", .string(toolVersion))])),
            (
                "source",
                .object(
                    [
                        ("path", .string(source.path)),
                        ("kind", .string(source.kind)),
                        ("sqlite_version", .string(source.sqliteVersion)),
                        ("journal_mode", .string(source.journalMode)),
                        ("page_size", .int(source.pageSize)),
                        ("schema_version", source.schemaVersion.map { .string($0) } ?? .null),
                        ("migrations", .array(source.migrations.map { .string($0) })),
                        ("collection_prefix", .string(source.prefix)),
                    ] + (source.app.map { [("app", $0.json)] } ?? []))
            ),
            ("tags", .array(tags.map { .string($0) })),
            (
                "contents",
                .object([
                    ("records", .bool(contents.records)),
                    ("collections", contents.collections.map { .array($0.map { .string($0) }) } ?? .null),
                    ("excluded_tables", .array(contents.excludedTables.map { .string($0) })),
                ])
            ),
            (
                "tables",
                .array(
                    tables.map { t in
                        .object([
                            ("name", .string(t.name)), ("group", .string(t.group.rawValue)),
                            ("columns", .array(t.columns.map { .string($0) })),
                        ])
                    })
            ),
        ])
    }

    /// Reads the header; an unknown format or a newer version is refused with a clear reason.
    package init(json: JSONValue) throws {
        func fail(_ reason: String) -> FormatProblem { FormatProblem(entry: ArchiveFormat.headerPath, reason: reason) }
        guard json["format"]?.stringValue == ArchiveFormat.name else {
            throw fail("format is \(json["format"].map { JSONWriter.string($0) } ?? "missing"), not \"\(ArchiveFormat.name)\"")
        }
        guard let version = json["version"]?.intValue else { throw fail("version is missing") }
        guard version >= 1, version <= ArchiveFormat.newestReadable else {
            throw fail("format version \(version) is newer than this velo reads (up to \(ArchiveFormat.newestReadable)); upgrade velo")
        }
        guard let id = json["id"]?.stringValue, !id.isEmpty else { throw fail("id is missing") }
        guard let timeText = json["time"]?.stringValue, let time = Timestamp.parseISO8601(timeText) else {
            throw fail("time is missing or not ISO 8601")
        }
        guard let source = json["source"], case .object = source else { throw fail("source is missing") }
        self.version = version
        self.id = id
        self.time = time
        toolVersion = json["tool"]?["version"]?.stringValue ?? "unknown"
        self.source = Source(
            path: source["path"]?.stringValue ?? "",
            kind: source["kind"]?.stringValue ?? "tenant",
            sqliteVersion: source["sqlite_version"]?.stringValue ?? "",
            journalMode: source["journal_mode"]?.stringValue ?? "",
            pageSize: source["page_size"]?.intValue ?? 0,
            schemaVersion: source["schema_version"]?.stringValue,
            migrations: (source["migrations"]?.arrayValue ?? []).compactMap(\.stringValue),
            prefix: source["collection_prefix"]?.stringValue ?? CollectionMetadata.defaultPrefix,
            app: AppOrigin(json: source["app"]))
        tags = (json["tags"]?.arrayValue ?? []).compactMap(\.stringValue)
        let contents = json["contents"]
        self.contents = Contents(
            records: contents?["records"]?.boolValue ?? true,
            collections: contents?["collections"]?.arrayValue?.compactMap(\.stringValue),
            excludedTables: (contents?["excluded_tables"]?.arrayValue ?? []).compactMap(\.stringValue))
        tables = try (json["tables"]?.arrayValue ?? []).enumerated().map { i, t in
            guard let name = t["name"]?.stringValue, let group = t["group"]?.stringValue.flatMap(ArchiveFormat.Group.init(rawValue:)),
                let columns = t["columns"]?.arrayValue
            else { throw fail("tables[\(i)] is malformed") }
            return Table(name: name, group: group, columns: columns.compactMap(\.stringValue))
        }
    }
}

/// Something in an archive that does not follow the format, naming the entry.
public struct FormatProblem: VeloFailure {
    public var kind: ErrorKind { .damaged }
    public let entry: String
    public let reason: String
    public var description: String { "entry \(entry): \(reason)" }

    package init(entry: String, reason: String) {
        self.entry = entry
        self.reason = reason
    }
}
