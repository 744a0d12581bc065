import Foundation
import VeloFormat
import VeloStorage

/// Reading the small parts of a version 2 archive without rebuilding its rows: its header and `segments.json`,
/// which name the segment lists it references (for a later backup's reuse, for prune's mark phase, and for
/// `inspect`'s new/shared figures).
package enum SegmentedSnapshot {
    /// The header and, for a version 2 archive, its segments document (nil for a version 1 archive).
    /// - Throws: `ArchiveDamage` when the archive's first entries cannot be read.
    package static func read(_ archivePath: String) throws -> (header: SnapshotHeader, segments: SegmentsDocument?) {
        try read(try ArchiveReader(path: archivePath))
    }

    /// `read(_:)` of a catalogued snapshot, through its repository's storage.
    package static func read(
        _ entry: CatalogEntry, in repository: Repository
    ) throws -> (header: SnapshotHeader, segments: SegmentsDocument?) {
        try read(repository.archiveName(of: entry), in: repository)
    }

    /// `read(_:)` of the archive `name` in a repository's storage.
    package static func read(_ name: StoredName, in repository: Repository) throws -> (header: SnapshotHeader, segments: SegmentsDocument?)
    {
        let storage = repository.storage
        return try read(
            try ArchiveReader(input: StoredArchiveInput(try storage.open(name, cached: true), description: storage.describe(name))))
    }

    /// `read(_:)` of a selected snapshot.
    package static func read(_ snapshot: SelectedSnapshot) throws -> (header: SnapshotHeader, segments: SegmentsDocument?) {
        switch snapshot {
        case .catalogued(let entry, let repository): return try read(entry, in: repository)
        case .archive(let path): return try read(path)
        case .sealedExport(let export): return try read(try ArchiveReader(input: try export.input()))
        }
    }

    private static func read(_ reader: ArchiveReader) throws -> (header: SnapshotHeader, segments: SegmentsDocument?) {
        let archivePath = reader.path
        func damage(_ entry: String?, _ reason: String) -> ArchiveDamage { ArchiveDamage(path: archivePath, entry: entry, reason: reason) }
        guard let first = try reader.nextEntry(), first.path == ArchiveFormat.headerPath,
            first.size <= Int64(ArchiveFormat.maxJSONEntryBytes)
        else {
            throw damage(ArchiveFormat.headerPath, "is not the first entry")
        }
        let header: SnapshotHeader
        do { header = try SnapshotHeader(json: try JSONParser.parse(try reader.readAll(limit: ArchiveFormat.maxJSONEntryBytes))) } catch let
            problem as FormatProblem
        {
            throw damage(problem.entry, problem.reason)
        } catch let error as ArchiveDamage { throw error } catch { throw damage(ArchiveFormat.headerPath, "\(error)") }
        guard header.version == SegmentFormat.version else { return (header, nil) }
        while let entry = try reader.nextEntry() {
            guard entry.path != SegmentFormat.segmentsPath else {
                guard entry.size <= Int64(ArchiveFormat.maxJSONEntryBytes) else { throw damage(entry.path, "is too large") }
                do {
                    return (
                        header, try SegmentsDocument(json: try JSONParser.parse(try reader.readAll(limit: ArchiveFormat.maxJSONEntryBytes)))
                    )
                } catch let problem as FormatProblem {
                    throw damage(problem.entry, problem.reason)
                } catch let error as ArchiveDamage { throw error } catch { throw damage(entry.path, "\(error)") }
            }
            if entry.path == ArchiveFormat.manifestPath { break }
        }
        throw damage(SegmentFormat.segmentsPath, "is missing from an incremental snapshot")
    }

    /// The files table of the newest catalogued incremental snapshot of `sourcePath` that holds uploaded files:
    /// what a backup with files reuses them from, past snapshots of the same database without files. nil when
    /// there is none (or it cannot be read: every file is then stored anew).
    package static func previousFiles(
        in repository: Repository, sourcePath: String
    ) throws -> (table: SegmentsDocument.Table, taken: Int64)? {
        for entry in try repository.catalog.newestFirst(of: sourcePath) where (entry.files ?? 0) > 0 {
            if entry.verification?.ok == false { continue }  // known damaged: reuse nothing from it
            guard let read = try? Self.read(entry, in: repository), let files = read.segments?.files else { continue }
            return (files, read.header.time)
        }
        return nil
    }

    /// The newest catalogued snapshot of `sourcePath` that is incremental, with its header and segments: what a
    /// new backup of that source reuses. nil when there is none or it cannot be read (then every segment is new).
    package static func previous(
        in repository: Repository, sourcePath: String
    ) throws -> (header: SnapshotHeader, segments: SegmentsDocument)? {
        for entry in try repository.catalog.newestFirst(of: sourcePath) {
            if entry.verification?.ok == false { continue }  // known damaged: reuse nothing from it
            guard let detail = try? repository.catalog.detail(entry.id), detail.header.version == SegmentFormat.version else { continue }
            do {
                let read = try Self.read(entry, in: repository)
                if let segments = read.segments { return (read.header, segments) }
            } catch {
                Diagnostics.warn(
                    "\(repository.archiveLocation(of: entry)): cannot read its segments (\(error)); the backup stores every segment anew")
            }
            return nil
        }
        return nil
    }
}
