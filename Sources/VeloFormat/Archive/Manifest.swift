/// `manifest.json`, the last entry of an archive: every other entry with its size, SHA-256 and rows, and every
/// table with its columns and row count. Verification checks the data against it.
public struct Manifest: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var path: String
        public var bytes: Int64
        public var sha256: String
        /// For row parts: the table and how many rows the part holds.
        public var table: String?
        public var rows: Int?
        /// For uploaded files (`files/…`): the file's permission bits and modification time (nanoseconds since
        /// the Unix epoch), which a restore gives back.
        public var mode: Int?
        public var modified: Int64?

        public init(
            path: String, bytes: Int64, sha256: String, table: String? = nil, rows: Int? = nil, mode: Int? = nil, modified: Int64? = nil
        ) {
            self.path = path
            self.bytes = bytes
            self.sha256 = sha256
            self.table = table
            self.rows = rows
            self.mode = mode
            self.modified = modified
        }
    }

    public struct Table: Equatable, Sendable {
        public var name: String
        public var group: ArchiveFormat.Group
        /// The table's role in the source database (`TableRole`).
        public var role: String
        /// The collection owning it (collection tables and pivots).
        public var collection: String?
        /// Stored columns in table order; the keys of every row.
        public var columns: [String]
        public var rows: Int
        /// Part entries, in order.
        public var parts: [String]

        package init(
            name: String, group: ArchiveFormat.Group, role: String, collection: String? = nil, columns: [String], rows: Int, parts: [String]
        ) {
            self.name = name
            self.group = group
            self.role = role
            self.collection = collection
            self.columns = columns
            self.rows = rows
            self.parts = parts
        }
    }

    /// 1 for a full archive; 2 for an incremental snapshot, whose parts are rebuilt from the repository.
    public var version: Int = ArchiveFormat.version
    public var snapshotID: String
    public var entries: [Entry]
    public var tables: [Table]

    public init(snapshotID: String, entries: [Entry], tables: [Table]) {
        self.snapshotID = snapshotID
        self.entries = entries
        self.tables = tables
    }

    public var totalRows: Int { tables.reduce(0) { $0 + $1.rows } }
    public var totalBytes: Int64 { entries.reduce(0) { $0 + $1.bytes } }

    public func table(_ name: String) -> Table? { tables.first { $0.name == name } }
    public func entry(_ path: String) -> Entry? { entries.first { $0.path == path } }
    /// The uploaded files (`files/…`), in archive order.
    public var files: [Entry] { entries.filter { ArchiveFormat.isFileEntry($0.path) } }

    /// Permission bits as four octal digits (`0644`).
    package static func octal(_ mode: Int) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    package var json: JSONValue {
        .object([
            ("format", .string(ArchiveFormat.name)),
            ("version", .int(version)),
            ("snapshot_id", .string(snapshotID)),
            (
                "entries",
                .array(
                    entries.map { e in
                        var pairs: [(String, JSONValue)] = [
                            ("path", .string(e.path)), ("bytes", .int(e.bytes)), ("sha256", .string(e.sha256)),
                        ]
                        if let table = e.table { pairs.append(("table", .string(table))) }
                        if let rows = e.rows { pairs.append(("rows", .int(rows))) }
                        if let mode = e.mode { pairs.append(("mode", .string(Manifest.octal(mode)))) }
                        if let modified = e.modified { pairs.append(("mtime_ns", .int(modified))) }
                        return .object(pairs)
                    })
            ),
            (
                "tables",
                .array(
                    tables.map { t in
                        .object([
                            ("name", .string(t.name)), ("group", .string(t.group.rawValue)), ("role", .string(t.role)),
                            ("collection", t.collection.map { .string($0) } ?? .null),
                            ("columns", .array(t.columns.map { .string($0) })), ("rows", .int(t.rows)),
                            ("parts", .array(t.parts.map { .string($0) })),
                        ])
                    })
            ),
            (
                "totals",
                .object([
                    ("tables", .int(tables.count)), ("rows", .int(totalRows)),
                    ("entries", .int(entries.count)), ("bytes", .int(totalBytes)),
                ])
            ),
        ])
    }

    /// Reads a manifest, refusing anything malformed with the reason.
    package init(json: JSONValue) throws {
        func fail(_ reason: String) -> FormatProblem { FormatProblem(entry: ArchiveFormat.manifestPath, reason: reason) }
        guard json["format"]?.stringValue == ArchiveFormat.name else { throw fail("format is not \"\(ArchiveFormat.name)\"") }
        guard let version = json["version"]?.intValue, version >= 1, version <= ArchiveFormat.newestReadable else {
            throw fail("format version \(json["version"].map { JSONWriter.string($0) } ?? "missing") is not one this velo reads")
        }
        guard let id = json["snapshot_id"]?.stringValue else { throw fail("snapshot_id is missing") }
        guard let entries = json["entries"]?.arrayValue, let tables = json["tables"]?.arrayValue else {
            throw fail("entries or tables are missing")
        }
        snapshotID = id
        self.version = version
        self.entries = try entries.enumerated().map { i, e in
            guard let path = e["path"]?.stringValue, let bytes = e["bytes"]?.intValue, let sha = e["sha256"]?.stringValue,
                sha.count == 64
            else { throw fail("entries[\(i)] is malformed") }
            var mode: Int?
            if let text = e["mode"]?.stringValue {
                guard let bits = Int(text, radix: 8), (0...0o7777).contains(bits) else {
                    throw fail("entries[\(i)] has mode \(text), not octal permission bits")
                }
                mode = bits
            }
            return Entry(
                path: path, bytes: Int64(bytes), sha256: sha, table: e["table"]?.stringValue, rows: e["rows"]?.intValue,
                mode: mode, modified: e["mtime_ns"]?.intValue.map(Int64.init))
        }
        self.tables = try tables.enumerated().map { i, t in
            guard let name = t["name"]?.stringValue, let groupName = t["group"]?.stringValue,
                let group = ArchiveFormat.Group(rawValue: groupName), let rows = t["rows"]?.intValue,
                let columns = t["columns"]?.arrayValue
            else { throw fail("tables[\(i)] is malformed") }
            return Table(
                name: name, group: group, role: t["role"]?.stringValue ?? "other", collection: t["collection"]?.stringValue,
                columns: columns.compactMap(\.stringValue), rows: rows,
                parts: (t["parts"]?.arrayValue ?? []).compactMap(\.stringValue))
        }
        var seen = Set<String>()
        for e in self.entries where !seen.insert(e.path).inserted { throw fail("lists \(e.path) twice") }
    }
}
