import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

extension Backup {
    /// An incremental snapshot (format version 2), what every backup writes by default. Rows go into
    /// content-defined segments stored once in the repository, and a tenant's uploaded files into segments of
    /// their own (`FileSegmentWriter`); the archive holds the header, the schema, `segments.json` and the
    /// manifest. When the source's state (`SourceState`) is the one the previous snapshot of the same source
    /// recorded, no row is read, and a file whose size and time are unchanged is not read either. Crash-safe
    /// as a full backup: packs and lists are durable before the archive that names them is committed, and the sweep marker (`Backup.withSweep`, set by the caller) makes the next writer delete any
    /// piece a killed backup left unreferenced.
    static func writeIncremental(
        databasePath: String, repository: Repository, options: Options, progress: (any ProgressObserver)?,
        sequence: () throws -> Int
    ) throws -> Result {
        let started = ContinuousClock.now
        let sourcePath = FileSystem.absolute(databasePath)
        Diagnostics.info("\(databasePath): taking a consistent incremental snapshot into \(repository.root)")
        let source = try BackupSource(databasePath: databasePath, repository: repository, options: options, version: SegmentFormat.version)
        defer { source.close() }
        let state = source.read.sourceState
        let previous = try SegmentedSnapshot.previous(in: repository, sourcePath: sourcePath)
        let unchanged = state != nil && previous?.segments.sourceState == state
        if unchanged {
            Diagnostics.info("\(databasePath): unchanged since snapshot \(previous!.header.id) (same file state); no row is read")
        }
        let store = PieceStore(storage: repository.storage)
        store.sweepMarker = repository.sweepMarker
        // The archive holds the header, schema, segments.json and manifest only: a 1 MiB window is plenty, and
        // the level's 4 MiB one would be allocated whole for the backup's length.
        let writer = try ArchiveWriter(
            output: try repository.createArchive(source.archive), level: options.level, workers: 0, windowLog: 20)
        let packs = try PackWriter(store: store, level: options.level, workers: Int(options.workers))
        let manifest: Manifest
        let document: SegmentsDocument
        let written: (bytes: Int64, sha256: String)
        let vanished: [String]
        do {
            guard let id = repository.id else {
                throw VeloError("\(repository.storage.describe(.config)): cannot read the repository's id", kind: .damaged)
            }
            // An encrypted repository keys segment hashes with a secret of its own, not with its public id.
            let key = repository.storage.keys?.segmentHashKey ?? Array(id.utf8)
            var snapshot = SegmentedSnapshotWriter(
                database: source.read.database, plan: source.plan, header: source.header,
                partBytes: options.partBytes ?? ArchiveFormat.incrementalPartBytes,
                level: options.level, store: store, hashKey: key, previous: previous, unchanged: unchanged,
                sourceState: state, progress: progress, pendingLimit: options.pendingSegmentLimit,
                workers: Int(options.workers))
            snapshot.files = source.files
            if source.files != nil {
                if let previous, let files = previous.segments.files {
                    snapshot.previousFiles = (files, previous.header.time)
                } else {
                    snapshot.previousFiles = try SegmentedSnapshot.previousFiles(in: repository, sourcePath: sourcePath)
                }
            }
            snapshot.afterRows = source.releaseAfterRows
            (manifest, document) = try snapshot.write(to: writer, packs: packs)
            vanished = snapshot.vanishedFiles
            written = try writer.finish()
        } catch {
            writer.abort()
            packs.abort()
            throw error
        }
        let entry = try commit(
            source.archive, in: repository, header: source.header, manifest: manifest, written: written,
            storedBytes: document.storedBytes, started: started, sequence: sequence)
        return source.result(entry, in: repository, vanished: vanished)
    }
}
