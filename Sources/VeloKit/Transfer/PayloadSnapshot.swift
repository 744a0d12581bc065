import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo backup --from-payload`: a Veloquent export stored as a velo snapshot, so exports made before velo join
/// retention, verify, diff, plan and restore. The payload is imported into a fresh Veloquent database (tables
/// built from the metadata exactly as Veloquent creates them, the payload's collection ids kept), which is then
/// backed up with the snapshot time set to `exported_at`.
package enum PayloadSnapshot {
    package static func run(
        payload payloadPath: String, repository: Repository, tags: [String],
        maxStringBytes: Int = PayloadReader.defaultMaxStringBytes
    ) throws -> Backup.Result {
        var reader = PayloadReader(path: payloadPath)
        reader.maxStringBytes = maxStringBytes
        let header = try reader.readHeader()
        guard let exportedAt = header.exportedAt, let time = Timestamp.parseISO8601(exportedAt) else {
            throw VeloError("\(payloadPath): the payload has no readable exported_at (ISO 8601), which would be the snapshot's time")
        }
        // Beside the payload (the repository's tmp folder is emptied when the backup takes the lock).
        var directory = (FileSystem.absolute(payloadPath) as NSString).deletingLastPathComponent
        if access(directory, W_OK) != 0 { directory = NSTemporaryDirectory() }
        // Named after the payload: the snapshot's source path (shown by `velo snapshots`) then says where it came from.
        let name = (payloadPath as NSString).lastPathComponent
        let path = (directory as NSString).appendingPathComponent("\(name).velo-\(getpid()).sqlite")
        TemporaryFile.removeLitter(beside: (directory as NSString).appendingPathComponent(name), marker: ".velo-")
        defer { for suffix in ["", "-journal", "-wal", "-shm"] { unlink(path + suffix) } }
        var options = TransferImport.Options()
        options.conflict = .overwrite
        options.preserveIDs = true
        options.safetySnapshot = false
        options.maxStringBytes = maxStringBytes
        let outcome = try TransferImport.run(payload: payloadPath, target: path, options: options, repository: nil)
        guard outcome.committed else {
            let first =
                outcome.result.blockers.first.map {
                    $0.message + ($0.examples.isEmpty ? "" : " (e.g. \($0.examples.prefix(3).joined(separator: "; ")))")
                } ?? "blocked"
            throw VeloError("\(payloadPath): the payload cannot be stored as a snapshot: \(first); nothing was written", kind: .blocked)
        }
        chmod(path, 0o600)
        var backup = Backup.Options()
        backup.tags = tags
        backup.time = time
        return try Backup.run(databasePath: path, repository: repository, options: backup)
    }
}
