import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo export`: any snapshot as one self-contained archive in format version 1, auditable with tar, zstd,
/// jq and sha256sum alone. An incremental snapshot's parts are rebuilt from the repository and checked against
/// its manifest (and the archive against the catalog) as they are copied; the header and manifest say version
/// 1 and the manifest lists the new header's size and SHA-256. Written aside and renamed into place only when
/// complete, so a failure leaves nothing at `out`.
public enum SnapshotExport {
    public struct Result: Encodable, Sendable {
        public var id: String
        public var out: String
        public var bytes: Int64
        public var sha256: String
        public var entries: Int
        public var rows: Int
    }

    /// Exports `snapshot` to `out` (which must not exist). A snapshot of an encrypted repository is written as a
    /// sealed export (`SealedExport`: the same archive, encrypted, with what opens it) unless `decrypt`.
    /// - Throws: `.input` when `out` exists, `ArchiveDamage` when the snapshot or a piece it uses is damaged,
    ///   `.io`, `.interrupted`.
    public static func run(_ snapshot: SelectedSnapshot, out: String, level: Int32 = 3, decrypt: Bool = false) throws -> Result {
        guard !FileSystem.exists(out) else { throw VeloError("\(out): already exists; choose a new file") }
        // What an export of the same file killed earlier left aside (`.<name>.tmp-<pid>`, its process gone).
        TemporaryFile.removeLitter(beside: out, marker: ".tmp-", hidden: true)
        let record = try snapshot.catalogRecord()
        let path = snapshot.archiveLocation
        let reader = try snapshot.openReader()
        func damage(_ entry: String?, _ reason: String) -> ArchiveDamage { ArchiveDamage(path: path, entry: entry, reason: reason) }
        let temporary =
            (((out as NSString).deletingLastPathComponent.isEmpty ? "." : (out as NSString).deletingLastPathComponent) as NSString)
            .appendingPathComponent(".\((out as NSString).lastPathComponent).tmp-\(getpid())")
        unlink(temporary)
        let writer: ArchiveWriter
        if case .sealedExport = snapshot, !decrypt {
            throw VeloError("\(path): is an encrypted export already; export it with decrypt to write its plaintext archive")
        }
        if let repository = snapshot.repository, repository.isEncrypted, !decrypt, let id = snapshot.id {
            writer = try ArchiveWriter(
                output: try SealedExport.Output(path: temporary, snapshotID: id, repository: repository), level: level,
                workers: Backup.defaultWorkers)
        } else {
            writer = try ArchiveWriter(path: temporary, level: level, workers: Backup.defaultWorkers)
        }
        do {
            guard let first = try reader.nextEntry(), first.path == ArchiveFormat.headerPath else {
                throw damage(nil, "\(ArchiveFormat.headerPath) is not the first entry")
            }
            let headerBytes = try reader.readAll(limit: ArchiveFormat.maxJSONEntryBytes)
            var header: SnapshotHeader
            do { header = try SnapshotHeader(json: try JSONParser.parse(headerBytes)) } catch let problem as FormatProblem {
                throw damage(problem.entry, problem.reason)
            }
            let expected = Dictionary((record?.manifest.entries ?? []).map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            if let listed = expected[first.path], listed.sha256 != SHA256Digest.of(headerBytes) {
                throw damage(first.path, "SHA-256 mismatch")
            }
            header.version = ArchiveFormat.version
            var newHeader = JSONWriter(pretty: true)
            newHeader.write(header.json)
            newHeader.appendByte(0x0A)
            let headerEntry = try writer.addEntry(path: first.path, bytes: newHeader.bytes, modificationTime: header.time)
            var observed: [ArchiveAudit.ObservedEntry] = [
                .init(path: first.path, bytes: Int64(headerBytes.count), sha256: SHA256Digest.of(headerBytes), rows: 0)
            ]
            var rows = 0
            var manifest: Manifest?
            var buffer = [UInt8](repeating: 0, count: 256 << 10)
            while let entry = try reader.nextEntry() {
                try Interruption.check()
                if let reason = entry.unsafeReason { throw damage(entry.path, reason) }
                if entry.path == ArchiveFormat.manifestPath {
                    do {
                        manifest = try Manifest(json: try JSONParser.parse(try reader.readAll(limit: ArchiveFormat.maxJSONEntryBytes)))
                    } catch let problem as FormatProblem {
                        throw damage(problem.entry, problem.reason)
                    }
                    break
                }
                guard entry.size <= ArchiveFormat.maxEntryBytes(entry.path) else {
                    throw damage(entry.path, "is \(entry.size) bytes, more than an entry may have")
                }
                // Streamed from the pieces into the new archive; checked as it goes, and a damaged entry
                // leaves only the temporary file, which the failure removes.
                var lines = 0
                let written: ArchiveWriter.Entry
                do {
                    written = try writer.addEntry(
                        path: entry.path, size: entry.size, modificationTime: header.time, source: "the rebuilt part"
                    ) { write in
                        while try buffer.withUnsafeMutableBytes({
                            try reader.readChunk(into: $0) { chunk in
                                lines += newlines(in: chunk)
                                try write(chunk)
                            }
                        }) > 0 {}
                    }
                } catch let error as VeloError where error.kind == .damaged {
                    throw damage(
                        entry.path,
                        "its pieces do not hold the \(entry.size) bytes its header says (\(error.message)); the snapshot is damaged (run 'velo verify')"
                    )
                }
                if let listed = expected[entry.path], listed.sha256 != written.sha256 || listed.bytes != written.bytes {
                    throw damage(entry.path, "SHA-256 mismatch (the snapshot is damaged; run 'velo verify')")
                }
                observed.append(
                    .init(path: entry.path, bytes: written.bytes, sha256: written.sha256, rows: entry.path.hasSuffix(".ndjson") ? lines : 0)
                )
                if entry.path.hasSuffix(".ndjson") && entry.path != ArchiveFormat.schemaPath { rows += lines }
            }
            guard var manifest else { throw damage(ArchiveFormat.manifestPath, "is missing (the archive is incomplete)") }
            if let record, record.manifest != manifest {
                throw damage(ArchiveFormat.manifestPath, "differs from the manifest the catalog recorded for this snapshot")
            }
            var sourceHeader = header
            sourceHeader.version = manifest.version
            if let problem = ArchiveAudit.crossCheck(header: sourceHeader, manifest: manifest, observed: observed).first {
                throw damage(problem.entry, problem.reason)
            }
            let finished = try reader.finishReading()
            if let record, finished.sha256 != record.sha256 {
                throw damage(nil, "archive SHA-256 is \(finished.sha256), the catalog recorded \(record.sha256)")
            }
            manifest.version = ArchiveFormat.version
            if let i = manifest.entries.firstIndex(where: { $0.path == ArchiveFormat.headerPath }) {
                manifest.entries[i].bytes = headerEntry.bytes
                manifest.entries[i].sha256 = headerEntry.sha256
            }
            var manifestBytes = JSONWriter(pretty: true)
            manifestBytes.write(manifest.json)
            manifestBytes.appendByte(0x0A)
            try writer.addEntry(path: ArchiveFormat.manifestPath, bytes: manifestBytes.bytes, modificationTime: header.time)
            let written = try writer.finish()
            try FileSystem.rename(temporary, to: out)
            return Result(
                id: header.id, out: out, bytes: written.bytes, sha256: written.sha256, entries: manifest.entries.count + 1, rows: rows)
        } catch {
            writer.abort()
            throw error
        }
    }

    /// How many newlines (rows) `bytes` holds.
    static func newlines(in bytes: UnsafeRawBufferPointer) -> Int {
        guard var p = bytes.baseAddress else { return 0 }
        let end = p + bytes.count
        var count = 0
        while p < end, let found = memchr(p, 0x0A, end - p) {
            count += 1
            p = UnsafeRawPointer(found) + 1
        }
        return count
    }
}
