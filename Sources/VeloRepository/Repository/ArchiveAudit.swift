import Foundation
import VeloFormat
import VeloStorage

/// One full read of an archive that checks everything `velo verify` promises: the zstd frames and their
/// checksums, the tar structure, that every entry is a plain file with a safe path and appears once, the
/// header first and the manifest last, every entry's size and SHA-256 and every part's row count against the
/// manifest, every row parsed with the same columns as its table, and the archive's own SHA-256.
/// Memory is bounded by one row, whatever the archive's size.
package struct ArchiveAudit {
    /// Something wrong with the archive, naming the entry when there is one.
    package struct Problem: Equatable, Sendable, CustomStringConvertible {
        package var entry: String?
        package var reason: String
        package var description: String { entry.map { "entry \($0): \(reason)" } ?? reason }

        package init(entry: String? = nil, reason: String) {
            self.entry = entry
            self.reason = reason
        }
    }

    /// What one entry turned out to hold.
    package struct ObservedEntry: Sendable {
        package var path: String
        package var bytes: Int64
        package var sha256: String
        package var rows: Int

        package init(path: String, bytes: Int64, sha256: String, rows: Int) {
            self.path = path
            self.bytes = bytes
            self.sha256 = sha256
            self.rows = rows
        }
    }

    package var path: String
    package var header: SnapshotHeader?
    package var manifest: Manifest?
    package var entries: [ObservedEntry] = []
    package var problems: [Problem] = []
    package var archiveBytes: Int64 = 0
    package var archiveSHA256 = ""
    /// An incremental snapshot's pack frames read and checked (compressed bytes); 0 for a full archive.
    package var frameBytes: Int64 = 0
    package var rowsChecked = 0
    /// Uncompressed bytes read so far, for progress.
    var bytesRead: Int64 = 0

    /// Reads the archive file at `path` from start to end (see `run(path:open:)`).
    package static func run(
        path: String, expectedSHA256: String? = nil, recordedManifest: Manifest? = nil, checkRows: Bool = true,
        verifiedParts: VerifiedParts? = nil, progress: (any ProgressObserver)? = nil
    ) throws -> ArchiveAudit {
        try run(
            path: path, open: { try SegmentedArchiveReader(path: path) }, expectedSHA256: expectedSHA256,
            recordedManifest: recordedManifest, checkRows: checkRows, verifiedParts: verifiedParts, progress: progress)
    }

    /// Reads an archive from start to end, with the reader `open` makes (`path` names it in the report).
    /// `expectedSHA256` and `expectedBytes` (from the catalog entry at `expectedAt`) are compared with the archive's own, and
    /// `recordedManifest` (the catalog's record at `recordedAt`, which restores hold the archive to) with the archive's manifest.
    package static func run(
        path: String, open: () throws -> SegmentedArchiveReader, expectedSHA256: String? = nil, expectedBytes: Int64? = nil,
        expectedAt: String? = nil,
        recordedManifest: Manifest? = nil, recordedAt: String? = nil, checkRows: Bool = true, verifiedParts: VerifiedParts? = nil,
        progress: (any ProgressObserver)? = nil
    ) throws -> ArchiveAudit {
        var audit = ArchiveAudit(path: path)
        do {
            let reader = try open()
            reader.verifiedParts = verifiedParts
            audit.read(reader, checkRows: checkRows, progress: progress)
        } catch let error as ArchiveDamage {
            // Damage at the very start: libarchive reads ahead while it opens the stream.
            audit.problems.append(Problem(entry: error.entry, reason: error.reason))
            return audit
        }
        if let expectedSHA256, !audit.archiveSHA256.isEmpty, audit.archiveSHA256 != expectedSHA256 {
            audit.problems.insert(
                Problem(
                    entry: nil,
                    reason: "archive SHA-256 is \(audit.archiveSHA256), the catalog recorded \(expectedSHA256)"
                        + (expectedAt.map { " (\($0))" } ?? "")), at: 0)
        } else if let expectedBytes, !audit.archiveSHA256.isEmpty, audit.archiveBytes != expectedBytes {
            // The bytes are the ones the catalog hashed, but the entry's size is not theirs: the entry is damaged,
            // and nothing it says about the archive can be trusted.
            audit.problems.insert(
                Problem(
                    entry: nil,
                    reason: "archive has \(audit.archiveBytes) bytes, the catalog recorded \(expectedBytes)"
                        + (expectedAt.map { " (\($0))" } ?? "")), at: 0)
        }
        if let recordedManifest, let manifest = audit.manifest, manifest != recordedManifest {
            audit.problems.append(
                Problem(
                    entry: ArchiveFormat.manifestPath,
                    reason: "differs from the manifest the catalog recorded for this snapshot" + (recordedAt.map { " (\($0))" } ?? "")))
        }
        audit.crossCheck()
        try Interruption.check()  // a stopped audit is not a finding
        return audit
    }

    mutating func read(_ reader: SegmentedArchiveReader, checkRows: Bool, progress: (any ProgressObserver)?) {
        var seen = Set<String>()
        var index = 0
        var sawManifestLast = false
        var abandoned = false
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        do {
            while let header = try reader.nextEntry() {
                defer { index += 1 }
                if sawManifestLast {
                    problems.append(Problem(entry: header.path, reason: "comes after \(ArchiveFormat.manifestPath), which must be last"))
                    sawManifestLast = false
                }
                if let unsafe = header.unsafeReason {
                    problems.append(Problem(entry: header.path, reason: unsafe))
                    continue
                }
                if !seen.insert(header.path).inserted {
                    problems.append(Problem(entry: header.path, reason: "appears more than once"))
                }
                let limit = ArchiveFormat.maxEntryBytes(header.path)
                if header.size > limit {
                    // An expansion bomb, or not velo's: reading on could take any time, so the audit ends here.
                    problems.append(
                        Problem(
                            entry: header.path,
                            reason:
                                "is \(header.size) bytes, more than the \(limit >> 20) MiB an entry of a velo archive may have; not read further"
                        ))
                    abandoned = true
                    break
                }
                if problems.count >= Self.maxProblems {
                    problems.append(Problem(entry: nil, reason: "more than \(Self.maxProblems) problems; not read further"))
                    abandoned = true
                    break
                }
                if index == 0 && header.path != ArchiveFormat.headerPath {
                    problems.append(
                        Problem(entry: header.path, reason: "is first, but \(ArchiveFormat.headerPath) must be the first entry"))
                }
                if header.path == ArchiveFormat.headerPath || header.path == ArchiveFormat.manifestPath {
                    let bytes = try reader.readAll(limit: ArchiveFormat.maxJSONEntryBytes)
                    var digest = SHA256Digest()
                    digest.update(bytes)
                    let parsed: JSONValue
                    do { parsed = try JSONParser.parse(bytes) } catch {
                        problems.append(Problem(entry: header.path, reason: "is not valid JSON (\(error))"))
                        continue
                    }
                    do {
                        if header.path == ArchiveFormat.headerPath {
                            if index != 0 { problems.append(Problem(entry: header.path, reason: "must be the first entry")) }
                            self.header = try SnapshotHeader(json: parsed)
                            entries.append(ObservedEntry(path: header.path, bytes: Int64(bytes.count), sha256: digest.hex(), rows: 0))
                        } else {
                            manifest = try Manifest(json: parsed)
                            sawManifestLast = true
                        }
                    } catch let problem as FormatProblem {
                        problems.append(Problem(entry: problem.entry, reason: problem.reason))
                    }
                    continue
                }
                guard let observed = try readData(header, reader: reader, buffer: &buffer, checkRows: checkRows, progress: progress) else {
                    abandoned = true
                    break
                }
                entries.append(observed)
            }
            if abandoned {
                progress?.finish()
                return
            }
            if manifest == nil && !problems.contains(where: { $0.entry == ArchiveFormat.manifestPath }) {
                problems.append(Problem(entry: ArchiveFormat.manifestPath, reason: "is missing (the archive is incomplete)"))
            } else if manifest != nil && !sawManifestLast {
                problems.append(Problem(entry: ArchiveFormat.manifestPath, reason: "is not the last entry"))
            }
            if header == nil && !problems.contains(where: { $0.entry == ArchiveFormat.headerPath }) {
                problems.append(Problem(entry: ArchiveFormat.headerPath, reason: "is missing"))
            }
            let finished = try reader.finishReading()
            archiveBytes = finished.bytes
            archiveSHA256 = finished.sha256
            frameBytes = reader.frameBytesRead
        } catch let error as ArchiveDamage {
            problems.append(Problem(entry: error.entry, reason: error.reason))
        } catch {
            problems.append(Problem(entry: nil, reason: "\(error)"))
        }
        progress?.finish()
    }

    /// Problems after which an audit stops reading: enough to name what is wrong, bounded in time.
    static let maxProblems = 100

    /// Streams one data entry: hashes it and, for row parts, checks and counts its rows. nil when the entry
    /// holds a row past the format's limit (recorded as a problem): the audit stops reading there.
    mutating func readData(
        _ header: ArchiveReader.EntryHeader, reader: SegmentedArchiveReader, buffer: inout [UInt8],
        checkRows: Bool, progress: (any ProgressObserver)?
    ) throws -> ObservedEntry? {
        if let known = reader.partAlreadyVerified() {
            // An incremental snapshot's part this run already rebuilt and checked (the same segments of the same list).
            rowsChecked += known.rows
            bytesRead += known.bytes
            return ObservedEntry(path: header.path, bytes: known.bytes, sha256: known.sha256, rows: known.rows)
        }
        if let trusted = reader.partOutsideSubset() {
            // Outside this run's --read-subset: trusted from the segments document, its rows not counted as checked.
            return ObservedEntry(path: header.path, bytes: trusted.bytes, sha256: trusted.sha256, rows: trusted.rows)
        }
        var digest = SHA256Digest()
        let isRows = ArchiveFormat.isRowsEntry(header.path)
        var lines = LineSplitter()
        var rows = 0
        // Columns come from the header, which is the first entry; without it only the rows' shape is checked.
        let columnCount: Int?
        if header.path == ArchiveFormat.schemaPath {
            columnCount = ArchiveFormat.schemaColumns.count
        } else {
            columnCount = self.header?.tables.first { header.path.hasPrefix($0.partPrefix) }?.columns.count
            if isRows, self.header != nil, columnCount == nil {
                problems.append(Problem(entry: header.path, reason: "belongs to no table listed in \(ArchiveFormat.headerPath)"))
            }
        }
        let validator = RowValidator(columnCount: columnCount)
        var problem: String?
        func line(_ bytes: UnsafeRawBufferPointer) {
            rows += 1
            guard checkRows, problem == nil else { return }
            if let reason = validator.problem(in: bytes) { problem = "row \(rows): \(reason)" }
        }
        while true {
            var tooLong: LineSplitter.LineTooLong?
            let n = try buffer.withUnsafeMutableBytes {
                try reader.readChunk(into: $0) { chunk in
                    digest.update(chunk)
                    guard isRows else { return }
                    do { try lines.feed(chunk, line) } catch { tooLong = error as? LineSplitter.LineTooLong }
                }
            }
            if n == 0 { break }
            if let tooLong {
                problems.append(Problem(entry: header.path, reason: "\(tooLong); not read further"))
                return nil
            }
            try Interruption.check()
            progress?.update(Int(bytesRead + digest.byteCount) >> 20, unit: "MiB read", detail: header.path)
        }
        if isRows && lines.hasPartialLine {
            problems.append(Problem(entry: header.path, reason: "the last row is not ended by a newline (truncated entry?)"))
        }
        if digest.byteCount != header.size {
            problems.append(Problem(entry: header.path, reason: "tar header says \(header.size) bytes, \(digest.byteCount) were read"))
        }
        if let problem {
            problems.append(Problem(entry: header.path, reason: problem))
        } else if digest.byteCount == header.size {
            reader.markPartVerified(sha256: digest.hex(), rows: rows)
        }
        rowsChecked += rows
        bytesRead += digest.byteCount
        return ObservedEntry(path: header.path, bytes: digest.byteCount, sha256: digest.hex(), rows: rows)
    }

    /// Compares what was read with what the manifest and header say.
    mutating func crossCheck() {
        guard let manifest else { return }
        problems += Self.crossCheck(header: header, manifest: manifest, observed: entries)
    }

    /// The problems between the entries read and what the manifest and the header say about them: the one
    /// definition of "the archive agrees with its manifest", shared by `velo verify` and every full scan.
    package static func crossCheck(header: SnapshotHeader?, manifest: Manifest, observed entries: [ObservedEntry]) -> [Problem] {
        var problems: [Problem] = []
        if let header, header.id != manifest.snapshotID {
            problems.append(
                Problem(
                    entry: ArchiveFormat.manifestPath, reason: "belongs to snapshot \(manifest.snapshotID), the header says \(header.id)"))
        }
        let observed = Dictionary(entries.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let listed = Set(manifest.entries.map(\.path))
        for expected in manifest.entries {
            guard let actual = observed[expected.path] else {
                problems.append(Problem(entry: expected.path, reason: "is listed in the manifest but missing from the archive"))
                continue
            }
            if actual.bytes != expected.bytes {
                problems.append(Problem(entry: expected.path, reason: "has \(actual.bytes) bytes, the manifest says \(expected.bytes)"))
            }
            if actual.sha256 != expected.sha256 {
                problems.append(Problem(entry: expected.path, reason: "SHA-256 mismatch (the data is damaged)"))
            }
            if let rows = expected.rows, rows != actual.rows {
                problems.append(Problem(entry: expected.path, reason: "has \(actual.rows) rows, the manifest says \(rows)"))
            }
        }
        for expected in manifest.entries where ArchiveFormat.isFileEntry(expected.path) {
            if ArchiveFormat.fileRelativePath(entry: expected.path) == nil {
                problems.append(
                    Problem(
                        entry: expected.path,
                        reason: "is not a safe file path (an empty, '.' or '..' component, an encoded '/' or NUL, or bad percent-encoding)")
                )
            }
            if expected.mode == nil || expected.modified == nil {
                problems.append(Problem(entry: expected.path, reason: "is an uploaded file without its mode and mtime_ns in the manifest"))
            }
        }
        for entry in entries where !listed.contains(entry.path) {
            problems.append(Problem(entry: entry.path, reason: "is not listed in the manifest"))
        }
        for table in manifest.tables {
            let partRows = table.parts.compactMap { observed[$0]?.rows }.reduce(0, +)
            if table.parts.allSatisfy({ observed[$0] != nil }) && partRows != table.rows {
                problems.append(
                    Problem(
                        entry: table.parts.first ?? ArchiveFormat.manifestPath,
                        reason: "table \(table.name) has \(partRows) rows in its parts, the manifest says \(table.rows)"))
            }
            if let listed = header?.tables.first(where: { $0.name == table.name }), listed.columns != table.columns {
                problems.append(
                    Problem(
                        entry: ArchiveFormat.manifestPath,
                        reason: "table \(table.name) has other columns than in \(ArchiveFormat.headerPath)"))
            }
        }
        return problems
    }
}
