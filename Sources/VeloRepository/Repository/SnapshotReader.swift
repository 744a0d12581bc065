import Foundation
import VeloFormat
import VeloStorage

/// Streams the rows of a snapshot archive, table by table, in archive order (metadata first, then system
/// tables, records, other tables). Used by `inspect`, `cat`, `diff`, `plan` and restores; `velo verify` does the
/// full audit with a report.
///
/// A scan that reaches the end checks what `velo verify` checks and throws `ArchiveDamage` at the first problem:
/// every entry's size, SHA-256 and rows against the manifest (the catalog's, when the snapshot is catalogued:
/// then an entry is checked before its size is even read, and the archive's own manifest must equal it), every
/// table's rows, the header's columns, nothing after the manifest or the tar stream, and the file's SHA-256
/// against the catalog's. Entries and rows past the format's limits are refused before they are read, so memory
/// stays bounded whatever an archive claims. Rows are handed out before their entry's checksum is known: a
/// restore writes into a transaction or a temporary file that only a complete scan commits.
package final class SnapshotReader {
    package let path: String
    package let header: SnapshotHeader
    private let reader: SegmentedArchiveReader
    private let expected: Manifest?
    private let expectedEntries: [String: Manifest.Entry]
    private let expectedSHA256: String?
    /// A catalogued archive's size as its catalog entry records it.
    private let expectedBytes: Int64?
    /// The archive was audited in full just before (its file SHA-256 is `expectedSHA256`): a scan then checks only
    /// that the file is still those bytes, instead of hashing and counting every entry a second time.
    private let audited: Bool
    private var observed: [ArchiveAudit.ObservedEntry] = []
    private var seen = Set<String>()
    private var scanned = false
    private var finished: (bytes: Int64, sha256: String)?

    /// Opens the archive and reads its header. `manifest` and `archiveSHA256` (from the catalog) are what the
    /// archive must match; without them a scan to the end checks the archive against its own manifest. With
    /// `audited` (which needs `archiveSHA256`, the audit's), only the file's SHA-256 is checked at the end.
    package convenience init(path: String, manifest: Manifest? = nil, archiveSHA256: String? = nil, audited: Bool = false) throws {
        try self.init(
            reader: try SegmentedArchiveReader(path: path), manifest: manifest, archiveSHA256: archiveSHA256, archiveBytes: nil,
            audited: audited)
    }

    /// Opens a selected snapshot (a catalogued one through its repository's storage), held to `manifest` and
    /// `archiveSHA256` as `init(path:)` is; a catalogued one's size is also held to its catalog entry's.
    package convenience init(_ snapshot: SelectedSnapshot, manifest: Manifest?, archiveSHA256: String? = nil, audited: Bool = false) throws
    {
        try self.init(
            reader: try snapshot.openReader(), manifest: manifest, archiveSHA256: archiveSHA256,
            archiveBytes: snapshot.catalogEntry?.archiveBytes, audited: audited)
    }

    private init(reader: SegmentedArchiveReader, manifest: Manifest?, archiveSHA256: String?, archiveBytes: Int64?, audited: Bool) throws {
        precondition(!audited || archiveSHA256 != nil, "an audited scan checks the audit's SHA-256")
        self.audited = audited
        let path = reader.path
        self.path = path
        self.reader = reader
        expected = manifest
        expectedEntries = Dictionary((manifest?.entries ?? []).map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        expectedSHA256 = archiveSHA256
        expectedBytes = archiveBytes
        guard let first = try reader.nextEntry() else {
            throw ArchiveDamage(path: path, entry: nil, reason: "the archive is empty")
        }
        guard first.path == ArchiveFormat.headerPath, first.unsafeReason == nil else {
            throw ArchiveDamage(
                path: path, entry: first.path, reason: "expected \(ArchiveFormat.headerPath) first; not a velo snapshot archive")
        }
        let bytes = try Self.readJSONEntry(first, from: reader, path: path)
        do {
            header = try SnapshotHeader(json: try JSONParser.parse(bytes))
        } catch let error as FormatProblem {
            throw ArchiveDamage(path: path, entry: error.entry, reason: error.reason)
        } catch {
            throw ArchiveDamage(path: path, entry: ArchiveFormat.headerPath, reason: "\(error)")
        }
        let sha = SHA256Digest.of(bytes)
        seen.insert(first.path)
        observed.append(.init(path: first.path, bytes: Int64(bytes.count), sha256: sha, rows: 0))
        if manifest != nil { try check(observed[0]) }
    }

    /// Opens a selected snapshot: a catalogued one is checked against the catalog's manifest and SHA-256.
    package convenience init(_ snapshot: SelectedSnapshot) throws {
        let record = try snapshot.catalogRecord()
        try self.init(snapshot, manifest: record?.manifest, archiveSHA256: record?.sha256)
    }

    /// The archive file's size and SHA-256, once a scan has reached the end.
    package func finishReading() throws -> (bytes: Int64, sha256: String) {
        if let finished { return finished }
        let result = try reader.finishReading()
        if let expectedSHA256, result.sha256 != expectedSHA256 {
            let source = audited ? "the audit read a moment ago (the file changed)" : "the catalog recorded"
            throw ArchiveDamage(path: path, entry: nil, reason: "archive SHA-256 is \(result.sha256), \(source) \(expectedSHA256)")
        }
        if let expectedBytes, result.bytes != expectedBytes {
            throw ArchiveDamage(path: path, entry: nil, reason: "archive has \(result.bytes) bytes, the catalog recorded \(expectedBytes)")
        }
        finished = result
        return result
    }

    /// The table of the header that a part entry belongs to.
    func table(forPart path: String) -> SnapshotHeader.Table? {
        header.tables.first { path.hasPrefix($0.partPrefix) }
    }

    static func readJSONEntry(_ entry: ArchiveReader.EntryHeader, from reader: SegmentedArchiveReader, path: String) throws -> [UInt8] {
        let limit = ArchiveFormat.maxJSONEntryBytes
        if entry.size > limit {
            throw ArchiveDamage(
                path: path, entry: entry.path, reason: "is \(entry.size) bytes, more than the \(limit >> 20) MiB this entry may have")
        }
        return try reader.readAll(limit: limit)
    }

    /// One entry as read, against the catalog's manifest.
    private func check(_ entry: ArchiveAudit.ObservedEntry) throws {
        guard let listed = expectedEntries[entry.path] else { return }
        if listed.sha256 != entry.sha256 {
            throw ArchiveDamage(path: path, entry: entry.path, reason: "SHA-256 mismatch (the archive is damaged; run 'velo verify')")
        }
        if let rows = listed.rows, rows != entry.rows {
            throw ArchiveDamage(path: path, entry: entry.path, reason: "has \(entry.rows) rows, the manifest says \(rows)")
        }
    }

    /// Reads the rest of the archive. For each row of a table in `tables` (all when nil), calls `onRow` with
    /// the table and the row's line (valid only during the call); `onRow` returns false to stop early.
    /// Returns the manifest when the end was reached (and checked). With `stopAfterTables`, reading stops
    /// (returning nil) at the first part of a table that comes after every table in `tables`.
    @discardableResult
    package func scan(
        tables: Set<String>? = nil, stopAfterTables: Bool = false,
        schema onSchema: ((UnsafeRawBufferPointer) throws -> Void)? = nil,
        files onFile: (any FileEntryHandler)? = nil,
        onRow: (SnapshotHeader.Table, UnsafeRawBufferPointer) throws -> Bool
    ) throws -> Manifest? {
        let order = Dictionary(header.tables.enumerated().map { ($0.element.name, $0.offset) }, uniquingKeysWith: { a, _ in a })
        let lastWanted = tables.map { $0.compactMap { order[$0] }.max() ?? -1 }
        precondition(!scanned, "a SnapshotReader scans once")
        scanned = true
        // A scan that may stop early checks only what the catalog lists; one that reads to the end checks all.
        let verifying = !audited && (expected != nil || !stopAfterTables)
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var lines = LineSplitter()
        while let entry = try reader.nextEntry() {
            if let reason = entry.unsafeReason { throw ArchiveDamage(path: path, entry: entry.path, reason: reason) }
            guard seen.insert(entry.path).inserted else {
                throw ArchiveDamage(path: path, entry: entry.path, reason: "appears more than once")
            }
            let limit = ArchiveFormat.maxEntryBytes(entry.path)
            if entry.size > limit {
                throw ArchiveDamage(
                    path: path, entry: entry.path,
                    reason: "is \(entry.size) bytes, more than the \(limit >> 20) MiB an entry of a velo archive may have")
            }
            if entry.path == ArchiveFormat.manifestPath {
                return try finish(manifestEntry: entry)
            }
            if expected != nil {
                guard let listed = expectedEntries[entry.path] else {
                    throw ArchiveDamage(path: path, entry: entry.path, reason: "is not listed in the manifest the catalog recorded")
                }
                if listed.bytes != entry.size {
                    throw ArchiveDamage(path: path, entry: entry.path, reason: "is \(entry.size) bytes, the manifest says \(listed.bytes)")
                }
            }
            let isSchema = entry.path == ArchiveFormat.schemaPath
            let isFile = ArchiveFormat.isFileEntry(entry.path)
            let table = isSchema || isFile ? nil : table(forPart: entry.path)
            let wantedFile = isFile && onFile?.wants(entry.path) == true
            let wanted = isSchema ? onSchema != nil : isFile ? wantedFile : table.map { tables?.contains($0.name) ?? true } ?? false
            if stopAfterTables, let lastWanted, let table, let position = order[table.name], position > lastWanted { return nil }
            if !wanted && !verifying { continue }  // libarchive skips the data
            if wantedFile { try onFile?.begin(entry.path, size: entry.size) }
            let isRows = ArchiveFormat.isRowsEntry(entry.path)
            var digest = SHA256Digest()
            var stop = false
            lines.reset()
            func line(_ bytes: UnsafeRawBufferPointer) throws {
                guard wanted, !stop else { return }
                if isSchema { try onSchema?(bytes) } else if let table, try !onRow(table, bytes) { stop = true }
            }
            while true {
                let n = try buffer.withUnsafeMutableBytes {
                    try reader.readChunk(into: $0) { chunk in
                        if verifying || wantedFile { digest.update(chunk) }
                        if wantedFile { try onFile?.write(chunk) }
                        if isRows {
                            do { try lines.feed(chunk, line) } catch let tooLong as LineSplitter.LineTooLong {
                                throw ArchiveDamage(path: path, entry: entry.path, reason: tooLong.description)
                            }
                        }
                    }
                }
                if n == 0 { break }
                if stop { return nil }
            }
            if isRows && lines.hasPartialLine {
                throw ArchiveDamage(path: path, entry: entry.path, reason: "the last row is not ended by a newline (truncated entry?)")
            }
            if wantedFile {
                if digest.byteCount != entry.size {
                    throw ArchiveDamage(
                        path: path, entry: entry.path, reason: "tar header says \(entry.size) bytes, \(digest.byteCount) were read")
                }
                try onFile?.end(entry.path, bytes: digest.byteCount, sha256: digest.hex())
            }
            if verifying {
                if digest.byteCount != entry.size {
                    throw ArchiveDamage(
                        path: path, entry: entry.path, reason: "tar header says \(entry.size) bytes, \(digest.byteCount) were read")
                }
                let seenEntry = ArchiveAudit.ObservedEntry(
                    path: entry.path, bytes: digest.byteCount, sha256: digest.hex(), rows: isRows ? lines.lines : 0)
                observed.append(seenEntry)
                try check(seenEntry)
            }
        }
        throw ArchiveDamage(path: path, entry: ArchiveFormat.manifestPath, reason: "is missing (the archive is incomplete)")
    }

    /// The manifest entry ends a scan: it must match the catalog's, agree with every entry read, and be last.
    private func finish(manifestEntry entry: ArchiveReader.EntryHeader) throws -> Manifest {
        let bytes = try Self.readJSONEntry(entry, from: reader, path: path)
        let manifest: Manifest
        do { manifest = try Manifest(json: try JSONParser.parse(bytes)) } catch let error as FormatProblem {
            throw ArchiveDamage(path: path, entry: error.entry, reason: error.reason)
        } catch {
            throw ArchiveDamage(path: path, entry: entry.path, reason: "\(error)")
        }
        if let expected, manifest != expected {
            throw ArchiveDamage(path: path, entry: entry.path, reason: "differs from the manifest the catalog recorded for this snapshot")
        }
        if !audited, let problem = ArchiveAudit.crossCheck(header: header, manifest: manifest, observed: observed).first {
            throw ArchiveDamage(path: path, entry: problem.entry, reason: problem.reason)
        }
        _ = try finishReading()
        return manifest
    }
}

/// Receives the uploaded files (`files/…` entries) a scan streams past: `begin`, the bytes in chunks, then
/// `end` with what was read. A file is handed out before the archive's manifest is checked; a handler writes
/// it aside and keeps it only once the scan has returned the manifest.
package protocol FileEntryHandler: AnyObject {
    /// Whether the scan should hand out this entry.
    func wants(_ entryPath: String) -> Bool
    func begin(_ entryPath: String, size: Int64) throws
    func write(_ bytes: UnsafeRawBufferPointer) throws
    func end(_ entryPath: String, bytes: Int64, sha256: String) throws
}
