import VeloFormat
import VeloStorage

/// `segments.json`, the third entry of a version 2 archive: for each table, the segment list that holds its
/// rows and how those rows are cut into the parts the manifest lists (each part a run of whole segments), plus
/// the source's change state and what this snapshot added to the repository. A snapshot of a tenant with its
/// uploaded files (`velo backup --app`) also has `files`: one part per file, its bytes cut into segments stored
/// in packs like rows (`FileSegmentWriter`), so an unchanged file costs nothing in the next snapshot.
package struct SegmentsDocument: Equatable, Sendable {
    package struct Part: Equatable, Sendable {
        package var path: String
        package var rows: Int
        package var bytes: Int64
        package var sha256: String
        package var segments: Int
        /// An uploaded file's modification time (nanoseconds), which with its size and path tells the next
        /// backup that it has not changed; nil for a part of rows.
        package var modified: Int64? = nil

        package init(path: String, rows: Int, bytes: Int64, sha256: String, segments: Int, modified: Int64? = nil) {
            self.path = path
            self.rows = rows
            self.bytes = bytes
            self.sha256 = sha256
            self.segments = segments
            self.modified = modified
        }
    }

    package struct Table: Equatable, Sendable {
        package var name: String
        /// SHA-256 of the table's segment list (`data/lists/<hh>/<sha256>.list`).
        package var list: String
        package var segments: Int
        /// Segments this snapshot stored; the others were already in the repository.
        package var newSegments: Int
        /// Uncompressed bytes of the table's rows, and of the new segments among them.
        package var rawBytes: Int64
        package var newRawBytes: Int64
        package var parts: [Part]
        /// When `list` is a patch (`SegmentListPatch`): the SHA-256 of the full list it applies to, which this
        /// snapshot therefore uses too (prune keeps it, verify checks it).
        package var base: String? = nil
        /// Whether the table's frames (its list's, or its base list's) include delta frames (`FrameTable`): a
        /// reader must know them to rebuild its parts.
        package var deltaFrames = false

        package init(
            name: String, list: String, segments: Int, newSegments: Int, rawBytes: Int64, newRawBytes: Int64, parts: [Part],
            base: String? = nil, deltaFrames: Bool = false
        ) {
            self.deltaFrames = deltaFrames
            self.name = name
            self.list = list
            self.segments = segments
            self.newSegments = newSegments
            self.rawBytes = rawBytes
            self.newRawBytes = newRawBytes
            self.parts = parts
            self.base = base
        }
    }

    /// The source file's change state when the snapshot was taken (`SourceState`), or nil when it changed while
    /// the read began: a later backup of the same source whose state is the same reads no row.
    package var sourceState: String?
    package var tables: [Table]
    /// The uploaded files (`files/…` entries), as a table whose parts are the files in the order of the walk
    /// (`UploadedFiles.walk`); nil when the snapshot holds no files.
    package var files: Table? = nil
    /// Bytes of packs and lists this snapshot wrote (compressed, as stored).
    package var storedBytes: Int64

    package func table(_ name: String) -> Table? { tables.first { $0.name == name } }

    /// 4 when the snapshot holds uploaded files, else 3 when a table's frames include delta frames, else 2 when a
    /// table's list is a patch, else 1 (as before patches existed): a reader that knows only the lower versions
    /// must not read it (it would miss files or find pieces it cannot parse), and refuses the document instead.
    package var version: Int {
        files != nil ? 4 : tables.contains(where: \.deltaFrames) ? 3 : tables.contains { $0.base != nil } ? 2 : 1
    }

    /// The tables whose parts the archive's entries are rebuilt from, in entry order: the tables of rows, then
    /// the files.
    package var allTables: [Table] { tables + (files.map { [$0] } ?? []) }

    /// Every list piece the snapshot uses: each table's list and, for a patch, its base (the files' too).
    package var listPieces: [String] { allTables.flatMap { [$0.list] + ($0.base.map { [$0] } ?? []) } }

    package var json: JSONValue {
        .object(
            [
                ("format", .string("velo-segments")), ("version", .int(version)),
                ("source_state", sourceState.map { .string($0) } ?? .null),
                ("stored_bytes", .int(storedBytes)),
                ("tables", .array(tables.map(Self.json))),
            ] + (files.map { [("files", Self.json($0))] } ?? []))
    }

    private static func json(_ t: Table) -> JSONValue {
        .object(
            [
                ("name", .string(t.name)), ("list", .string(t.list)),
            ] + (t.base.map { [("base", JSONValue.string($0))] } ?? []) + (t.deltaFrames ? [("delta_frames", JSONValue.bool(true))] : [])
                + [
                    ("segments", .int(t.segments)),
                    ("new_segments", .int(t.newSegments)), ("raw_bytes", .int(t.rawBytes)), ("new_raw_bytes", .int(t.newRawBytes)),
                    (
                        "parts",
                        .array(
                            t.parts.map { p in
                                .object(
                                    [
                                        ("path", .string(p.path)), ("rows", .int(p.rows)), ("bytes", .int(p.bytes)),
                                        ("sha256", .string(p.sha256)), ("segments", .int(p.segments)),
                                    ]
                                        + (p.modified.map { [("mtime_ns", JSONValue.int($0))] } ?? []))
                            })
                    ),
                ])
    }

    package init(sourceState: String?, tables: [Table], files: Table? = nil, storedBytes: Int64) {
        self.sourceState = sourceState
        self.tables = tables
        self.files = files
        self.storedBytes = storedBytes
    }

    package init(json: JSONValue) throws {
        func fail(_ reason: String) -> FormatProblem { FormatProblem(entry: SegmentFormat.segmentsPath, reason: reason) }
        guard json["format"]?.stringValue == "velo-segments", let version = json["version"]?.intValue, (1...4).contains(version) else {
            throw fail("is not a velo-segments document of version 1, 2, 3 or 4")
        }
        sourceState = json["source_state"]?.stringValue
        storedBytes = Int64(json["stored_bytes"]?.intValue ?? 0)
        guard let tables = json["tables"]?.arrayValue else { throw fail("tables are missing") }
        self.tables = try tables.enumerated().map { i, t in try Self.table(t, at: "tables[\(i)]", version: version) }
        if let files = json["files"] {
            guard version >= 4 else { throw fail("files is present in a document of version \(version)") }
            let table = try Self.table(files, at: "files", version: version)
            for part in table.parts where !ArchiveFormat.isFileEntry(part.path) || part.modified == nil || part.rows != 0 {
                throw fail("files has a part that is not an uploaded file: \(part.path)")
            }
            self.files = table
        }
    }

    private static func table(_ t: JSONValue, at i: String, version: Int) throws -> Table {
        func fail(_ reason: String) -> FormatProblem { FormatProblem(entry: SegmentFormat.segmentsPath, reason: reason) }
        guard let name = t["name"]?.stringValue, let list = t["list"]?.stringValue, list.count == 64,
            list.allSatisfy(\.isHexDigit), let segments = t["segments"]?.intValue, let parts = t["parts"]?.arrayValue
        else {
            throw fail("\(i) is malformed")
        }
        let base = t["base"]?.stringValue
        if let base, version < 2 || base.count != 64 || !base.allSatisfy(\.isHexDigit) { throw fail("\(i).base is malformed") }
        let deltaFrames = t["delta_frames"]?.boolValue ?? false
        if t["delta_frames"] != nil && (version < 3 || t["delta_frames"]?.boolValue == nil) { throw fail("\(i).delta_frames is malformed") }
        return Table(
            name: name, list: list.lowercased(), segments: segments, newSegments: t["new_segments"]?.intValue ?? 0,
            rawBytes: Int64(t["raw_bytes"]?.intValue ?? 0), newRawBytes: Int64(t["new_raw_bytes"]?.intValue ?? 0),
            parts: try parts.enumerated().map { j, p in
                guard let path = p["path"]?.stringValue, let rows = p["rows"]?.intValue, let bytes = p["bytes"]?.intValue,
                    let sha = p["sha256"]?.stringValue, let count = p["segments"]?.intValue, count >= 0, bytes >= 0
                else {
                    throw fail("\(i).parts[\(j)] is malformed")
                }
                return Part(
                    path: path, rows: rows, bytes: Int64(bytes), sha256: sha, segments: count,
                    modified: p["mtime_ns"]?.intValue.map(Int64.init))
            }, base: base?.lowercased(), deltaFrames: deltaFrames)
    }
}
