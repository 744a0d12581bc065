import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// What every backup does before it writes, whatever its output (`Backup.writeFull`, `Backup.writeIncremental`):
/// the consistent read begun, the source's layout and the plan of its tables, the snapshot's id, time and
/// header, the archive's name chosen, and the uploaded files walked. Also what it reports once catalogued.
struct BackupSource {
    let databasePath: String
    let read: ConsistentRead
    let layout: TenantDatabase
    let plan: TablePlan
    let header: SnapshotHeader
    /// The archive's name in the repository's storage.
    let archive: StoredName
    /// The uploaded files to store (`velo backup --app`), nil when the snapshot holds none.
    let files: (uploads: UploadedFiles, list: [UploadedFiles.File])?
    /// Files the walk left out, each with its reason.
    var skippedFiles: [String]

    /// Begins the read of `databasePath` for a snapshot of format `version`. The caller must `close()` it.
    init(databasePath: String, repository: Repository, options: Backup.Options, version: Int) throws {
        self.databasePath = databasePath
        read = try ConsistentRead(path: databasePath, busyTimeout: options.busyTimeout)
        do {
            layout = try TenantDatabase.load(read.database)
            plan = try TablePlan(layout: layout, options: options)
            var random = SystemRandomNumberGenerator()
            let id = SnapshotID.random(using: &random)
            let time = options.time ?? Timestamp.now
            header = try SnapshotHeader.backup(
                version: version, id: id, time: time, databasePath: databasePath, source: read, layout: layout, plan: plan,
                options: options)
            // Files belong to records: none in a metadata-only snapshot, only the selected collections' with a selection.
            if let disk = options.uploads, options.records {
                let uploads = UploadedFiles(disk: disk, collections: options.collections)
                let walked = try uploads.walk()
                files = (uploads, walked.files)
                skippedFiles = walked.skipped
            } else {
                files = nil
                skippedFiles = []
            }
            archive = .snapshot(id: id, time: time)
        } catch {
            read.close()
            throw error
        }
    }

    /// Ends the read transaction (if it is still open) and closes the source.
    func close() { read.close() }

    /// Ends the read once every row is read: writers need not wait for the files, the archive's last block, fsync
    /// and rename.
    func releaseAfterRows() { read.releaseAfterRows(of: databasePath) }

    /// What `velo backup` reports of the catalogued snapshot; `vanished` are files deleted while it ran.
    func result(_ entry: CatalogEntry, in repository: Repository, vanished: [String]) -> Backup.Result {
        var result = Backup.Result(entry, in: repository, plan: plan)
        if files != nil {
            result.files = entry.files ?? 0
            result.fileBytes = entry.fileBytes ?? 0
            result.skippedFiles = skippedFiles + vanished.map { "\($0): deleted while the backup ran" }
        }
        return result
    }
}
