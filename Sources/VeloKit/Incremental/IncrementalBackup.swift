import Foundation

extension Backup {
    /// An incremental snapshot (format version 2), what every backup writes by default. Rows go into
    /// content-defined segments stored once in the repository, and a tenant's uploaded files into segments of
    /// their own (`FileSegmentWriter`); the archive holds the header, the schema, `segments.json` and the
    /// manifest. When the source's state (`SourceState`) is the one the previous snapshot of the same source
    /// recorded, no row is read, and a file whose size and time are unchanged is not read either. Crash-safe
    /// as a full backup: packs and lists are durable before the archive that names them is renamed into
    /// place, and the sweep marker (`Backup.withSweep`, set by the caller) makes the next writer delete any
    /// piece a killed backup left unreferenced.
    static func writeIncremental(
        databasePath: String, repository: Repository, options: Options, progress: (any ProgressObserver)?,
        sequence: () throws -> Int
    ) throws -> Result {
        let started = ContinuousClock.now
        let startedNanoseconds = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
        let sourcePath = FileSystem.absolute(databasePath)
        Diagnostics.info("\(databasePath): taking a consistent incremental snapshot into \(repository.root)")
        let source = try ConsistentRead(path: databasePath, busyTimeout: options.busyTimeout)
        defer { source.close() }
        let state = source.sourceState
        let layout = try TenantDatabase.load(source.database)
        let plan = try TablePlan(layout: layout, options: options)
        var random = SystemRandomNumberGenerator()
        let id = SnapshotID.random(using: &random)
        let time = options.time ?? Timestamp.now
        let header = try SnapshotHeader.backup(
            version: SegmentFormat.version, id: id, time: time, databasePath: databasePath,
            source: source, layout: layout, plan: plan, options: options)
        let previous = SegmentedSnapshot.previous(in: repository, sourcePath: sourcePath)
        let unchanged = state != nil && previous?.segments.sourceState == state
        if unchanged {
            Diagnostics.info("\(databasePath): unchanged since snapshot \(previous!.header.id) (same file state); no row is read")
        }

        var uploads: (uploads: UploadedFiles, list: [UploadedFiles.File])?
        var skipped: [String] = []
        // Files belong to records: none in a metadata-only snapshot, only the selected collections' with --collections.
        if let root = options.filesRoot, options.records {
            let files = UploadedFiles(root: root, collections: options.collections)
            let walked = try files.walk()
            uploads = (files, walked.files)
            skipped = walked.skipped
        }

        let relative = repository.archivePath(id: id, time: time)
        let final = repository.path(relative)
        try FileSystem.createDirectory((final as NSString).deletingLastPathComponent, durable: true)
        let store = PieceStore(storage: repository.storage)
        let partial = repository.partialPath(for: relative)
        // The archive holds the header, schema, segments.json and manifest only: a 1 MiB window is plenty, and
        // the level's 4 MiB one would be allocated whole for the backup's length.
        let writer = try ArchiveWriter(path: partial, level: options.level, workers: 0, windowLog: 20)
        let packs = try PackWriter(store: store, level: options.level, workers: Int(options.workers))
        let manifest: Manifest
        let document: SegmentsDocument
        let written: (bytes: Int64, sha256: String)
        do {
            let marker = try JSONParser.parse(try FileSystem.read(repository.path(Repository.markerFile)))
            let key = Array((marker["id"]?.stringValue ?? "").utf8)
            var snapshot = SegmentedSnapshotWriter(
                database: source.database, plan: plan, header: header, partBytes: options.partBytes ?? ArchiveFormat.incrementalPartBytes,
                level: options.level, store: store, hashKey: key, previous: previous, unchanged: unchanged,
                sourceState: state, progress: progress, pendingLimit: options.pendingSegmentLimit,
                workers: Int(options.workers))
            snapshot.files = uploads
            snapshot.started = startedNanoseconds
            // Every row is read: writers need not wait for the files, the last frames, the lists, fsync and rename.
            snapshot.afterRows = { source.releaseAfterRows(of: databasePath) }
            (manifest, document) = try snapshot.write(to: writer, packs: packs)
            skipped += snapshot.vanishedFiles.map { "\($0): deleted while the backup ran" }
            written = try writer.finish()
        } catch {
            writer.abort()
            packs.abort()
            throw error
        }
        let entry = try commit(
            partial, to: relative, in: repository, header: header, manifest: manifest, written: written,
            storedBytes: document.storedBytes, started: started, sequence: sequence)
        var result = Result(entry, in: repository, plan: plan)
        if uploads != nil {
            result.files = entry.files ?? 0
            result.fileBytes = entry.fileBytes ?? 0
            result.skippedFiles = skipped
        }
        return result
    }
}
