import Foundation

extension Backup {
    /// The commit point every backup ends with: the complete, fsynced archive at `partial` is renamed to its
    /// final name (from then on the snapshot exists; a crash before it is catalogued is finished by the next
    /// writer), then its catalog entry is written. `storedBytes`: an incremental snapshot's new pieces.
    static func commit(
        _ partial: String, to relative: String, in repository: Repository, header: SnapshotHeader, manifest: Manifest,
        written: (bytes: Int64, sha256: String), storedBytes: Int64? = nil, started: ContinuousClock.Instant,
        sequence: () throws -> Int
    ) throws -> CatalogEntry {
        let final = repository.path(relative)
        try FileSystem.rename(partial, to: final)
        Diagnostics.info(
            "\(final): written (\(written.bytes) bytes, SHA-256 \(written.sha256))\(storedBytes.map { "; \($0) bytes of new pieces" } ?? "") and renamed into place"
        )
        var entry = CatalogEntry(
            snapshot: header, manifest: manifest, archive: relative, bytes: written.bytes,
            sha256: written.sha256, seconds: (ContinuousClock.now - started).inSeconds, sequence: try sequence())
        entry.storedBytes = storedBytes
        try repository.catalog.write(entry, header: header, manifest: manifest)
        Diagnostics.info("\(repository.catalog.entryPath(entry.id)): catalogued")
        return entry
    }
}

extension Backup.Result {
    /// What `velo backup` reports of a catalogued snapshot of `plan`'s tables.
    init(_ entry: CatalogEntry, in repository: Repository, plan: TablePlan) {
        self.init(
            id: entry.id, time: Timestamp.iso8601(entry.time), archive: repository.path(entry.archive), bytes: entry.addedBytes,
            sha256: entry.archiveSHA256, rows: entry.tableRows, excludedTables: plan.excluded,
            notVeloquent: plan.items.filter { $0.group == .other && $0.includeRows }.map(\.table), seconds: entry.seconds)
    }
}
