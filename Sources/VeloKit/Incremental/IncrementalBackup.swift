import Foundation

extension Backup {
    /// `velo backup` without `--full`: an incremental snapshot (format version 2). Rows go into content-defined
    /// segments stored once in the repository; the archive holds the header, the schema, `segments.json` and
    /// the manifest. When the source's state (`SourceState`) is the one the previous snapshot of the same source
    /// recorded, no row is read. Crash-safe as a full backup: packs and lists are durable before the archive
    /// that names them is renamed into place, and the sweep marker makes the next writer delete any piece a
    /// killed backup left unreferenced.
    static func runIncremental(databasePath: String, repository: Repository, options: Options, progress: (any ProgressObserver)?) throws -> Result {
        let started = ContinuousClock.now
        let lock = try repository.writerLock(command: "velo backup")
        defer { lock.release() }
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
        let header = try SnapshotHeader.backup(version: SegmentFormat.version, id: id, time: time, databasePath: databasePath,
                                               source: source, layout: layout, plan: plan, options: options)
        let previous = SegmentedSnapshot.previous(in: repository, sourcePath: sourcePath)
        let unchanged = state != nil && previous?.segments.sourceState == state
        if unchanged { Diagnostics.info("\(databasePath): unchanged since snapshot \(previous!.header.id) (same file state); no row is read") }

        let relative = repository.archivePath(id: id, time: time)
        let final = repository.path(relative)
        try FileSystem.createDirectory((final as NSString).deletingLastPathComponent, durable: true)
        try PieceSweep.markNeeded(repository)
        let store = PieceStore(root: repository.root)
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
            var snapshot = SegmentedSnapshotWriter(database: source.database, plan: plan, header: header, partBytes: options.partBytes ?? ArchiveFormat.incrementalPartBytes,
                                                   level: options.level, store: store, hashKey: key, previous: previous, unchanged: unchanged,
                                                   sourceState: state, progress: progress, pendingLimit: options.pendingSegmentLimit,
                                                   workers: Int(options.workers))
            // Every row is read: writers need not wait for the last frames, the lists, fsync and rename.
            snapshot.afterRows = { source.releaseAfterRows(of: databasePath) }
            (manifest, document) = try snapshot.write(to: writer, packs: packs)
            written = try writer.finish()
        } catch {
            writer.abort()
            packs.abort()
            // What this backup stored is referenced by nothing: sweep it now (the marker stays if that fails).
            if PieceSweep.run(repository).complete { PieceSweep.clearNeeded(repository) }
            throw error
        }
        let entry = try commit(partial, to: relative, in: repository, header: header, manifest: manifest, written: written,
                               storedBytes: document.storedBytes, started: started, sequence: { try repository.catalog.nextSequence() })
        PieceSweep.clearNeeded(repository)
        return Result(entry, in: repository, plan: plan)
    }
}
