import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

extension Backup {
    /// The commit point every backup ends with, once the writer's `finish` committed the archive `archive`
    /// (from then on the snapshot exists; a crash before it is catalogued is finished by the next writer): its
    /// catalog entry is written. `storedBytes`: an incremental snapshot's new pieces.
    static func commit(
        _ archive: StoredName, in repository: Repository, header: SnapshotHeader, manifest: Manifest,
        written: (bytes: Int64, sha256: String), storedBytes: Int64? = nil, started: ContinuousClock.Instant,
        sequence: () throws -> Int
    ) throws -> CatalogEntry {
        Diagnostics.info(
            "\(repository.storage.describe(archive)): written (\(written.bytes) bytes, SHA-256 \(written.sha256))\(storedBytes.map { "; \($0) bytes of new pieces" } ?? "") and committed"
        )
        var entry = CatalogEntry(
            snapshot: header, manifest: manifest, archive: archive.relativePath, bytes: written.bytes,
            sha256: written.sha256, seconds: (ContinuousClock.now - started).inSeconds, sequence: try sequence())
        entry.storedBytes = storedBytes
        try repository.catalog.write(entry, header: header, manifest: manifest)
        Diagnostics.info("\(repository.catalog.entryLocation(entry.id)): catalogued")
        return entry
    }
}

extension Backup.Result {
    /// What `velo backup` reports of a catalogued snapshot of `plan`'s tables.
    init(_ entry: CatalogEntry, in repository: Repository, plan: TablePlan) {
        self.init(
            id: entry.id, time: Timestamp.iso8601(entry.time), archive: repository.archiveLocation(of: entry), bytes: entry.addedBytes,
            sha256: entry.archiveSHA256, rows: entry.tableRows, excludedTables: plan.excluded,
            notVeloquent: plan.items.filter { $0.group == .other && $0.includeRows }.map(\.table), seconds: entry.seconds)
    }
}
