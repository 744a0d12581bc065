import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo transfer export`: a payload from a live database (read consistently, as `velo backup` reads it) or
/// offline from a snapshot archive (restored into a temporary database first, checked in full as it streams).
package enum TransferExport {
    /// Exports the live database at `databasePath`, read in one read transaction as `velo backup` reads it.
    package static func fromDatabase(
        _ databasePath: String, options: PayloadExporter.Options, to output: PayloadOutput,
        busyTimeout: Duration = .seconds(5),
        progress: (any ProgressObserver)? = nil
    ) throws -> PayloadExporter.Summary {
        let checked = try Backup.checkSource(databasePath, busyTimeout: busyTimeout)
        let source = try withExtendedLifetime(checked) { try ConsistentRead(path: databasePath, busyTimeout: busyTimeout) }
        defer { source.close() }
        let layout = try TenantDatabase.load(source.database)
        return try PayloadExporter.export(database: source.database, layout: layout, options: options, to: output, progress: progress)
    }

    /// Exports a snapshot. `exported_at` defaults to the snapshot's time.
    package static func fromSnapshot(
        _ snapshot: SelectedSnapshot, repository: Repository?, options: PayloadExporter.Options,
        to output: PayloadOutput, progress: (any ProgressObserver)? = nil
    ) throws -> PayloadExporter.Summary {
        let directory = repository?.temporaryDirectory ?? NSTemporaryDirectory()
        try FileSystem.createDirectory(directory)
        let path = (directory as NSString).appendingPathComponent("transfer-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sqlite")
        defer { for suffix in ["", "-journal", "-wal", "-shm"] { unlink(path + suffix) } }
        let record = try snapshot.catalogRecord()
        _ = try NewDatabaseRestore.run(snapshot, manifest: record?.manifest, archiveSHA256: record?.sha256, to: path)
        chmod(path, 0o600)
        let db = try Database(path: path, mode: .readOnly, reportedAs: snapshot.archiveLocation)
        let layout = try TenantDatabase.load(db)
        var options = options
        if options.exportedAt == nil, let entry = snapshot.catalogEntry { options.exportedAt = entry.time }
        return try PayloadExporter.export(database: db, layout: layout, options: options, to: output, progress: progress)
    }
}
